import {strict as assert} from 'node:assert'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {assertUnchanged, editFile, fillGateway, snapshot, tempDir, truncateFile, writeSignedBackup} from '../support/backups.js'
import {parseJson} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {nowSeconds, pythonJson} from '../support/gateway-fixtures.js'

const PASSPHRASE = {MCPAUTH_BACKUP_PASSPHRASE: 'correct horse battery staple'}

describe('oauth-restore with a damaged or foreign file', () => {
  const ctx = useRedis()

  async function backupFile(flags: string[] = [], env: Record<string, string> = {}): Promise<string> {
    await fillGateway(ctx.gateway, ctx.redis)
    const file = join(await tempDir(), 'backup')
    const result = await ctx.cli(['oauth-backup', '--output', file, ...flags], {env})
    assert.equal(result.code, 0, result.stderr)
    await ctx.redis.flushdb()
    await ctx.redis.set('oauth:client:sentinel', 'present before the restore', 'EX', 600)
    return file
  }

  /** Runs every restore mode on the file: each must fail with one clear line, exit 2, and leave Redis as it was. */
  async function assertRefused(file: string, message: RegExp, env: Record<string, string> = {}): Promise<void> {
    const before = await snapshot(ctx.redis)
    for (const flags of [[], ['--overwrite', '--yes'], ['--clear', '--yes'], ['--dry-run']]) {
      const result = await ctx.cli(['oauth-restore', file, ...flags], {env})
      assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
      assert.match(result.stderr, /^Error: Backup .*\nHint: Nothing was written to Redis/)
      assert.doesNotMatch(result.stderr, /\n\s+at /)
    }
    const json = await ctx.cli(['oauth-restore', file, '--json'], {env})
    assert.equal(parseJson(json).error.code, 'backup_invalid')
    assertUnchanged(await snapshot(ctx.redis), before)
  }

  it('detects a file cut in the middle of a line', async () => {
    const file = await backupFile()
    await truncateFile(file, -400)
    await assertRefused(file, /is damaged: line \d+ is not a JSON object/)
  })

  it('detects a file cut at the end of a line, before its trailer', async () => {
    const file = await backupFile()
    const lines = (await readFile(file, 'utf8')).split('\n')
    assert.match(lines.at(-2)!, /^\{"end":"mcpauth-backup"/)
    await writeFile(file, `${lines.slice(0, -2).join('\n')}\n`)
    await assertRefused(file, /is truncated: it ends after 13 records, before its trailer/)
  })

  it('detects one changed byte in a value', async () => {
    const file = await backupFile()
    await editFile(file, 'openid profile email', 'openid profile emaiL')
    await assertRefused(file, /was edited: its checksum does not match its content/)
  })

  it('detects a truncated gzip file', async () => {
    const file = await backupFile(['--gzip'])
    await truncateFile(file, -20)
    await assertRefused(file, /is damaged: its gzip data is truncated or corrupt/)
  })

  it('detects a truncated or altered encrypted file', async () => {
    const file = await backupFile(['--encrypt'], PASSPHRASE)
    await truncateFile(file, -1)
    await assertRefused(file, /fails its authentication check/, PASSPHRASE)

    const altered = await backupFile(['--encrypt', '--gzip'], PASSPHRASE)
    const bytes = await readFile(altered)
    bytes[bytes.length - 100] ^= 0x01
    await writeFile(altered, bytes)
    await assertRefused(altered, /is damaged/, PASSPHRASE)
  })

  it('rejects a file of another format', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'notes.txt'), 'client_id,secret\nabc,def\n')
    await assertRefused(join(dir, 'notes.txt'), /is not a backup: neither mcpauth-backup nor the gateway JSON format/)
    await writeFile(join(dir, 'other.json'), JSON.stringify({users: [{name: 'alice'}]}))
    await assertRefused(join(dir, 'other.json'), /is not a backup/)
    await writeFile(join(dir, 'future.jsonl'), '{"format":"mcpauth-backup","version":2}\n')
    await assertRefused(join(dir, 'future.jsonl'), /has format version 2; this mcpauth reads version 1/)
  })

  it('rejects an unknown record type and a key outside oauth: even when the checksum is right', async () => {
    const dir = await tempDir()
    await writeSignedBackup(
      join(dir, 'zset.jsonl'),
      [
        {key: 'oauth:client:a', type: 'string', value: '{}', expires_at_ms: null},
        {key: 'oauth:rank:a', type: 'zset', value: [['a', '1']], expires_at_ms: null},
      ],
      {kinds: {client: 1, other: 1}, types: {string: 2}},
    )
    await assertRefused(join(dir, 'zset.jsonl'), /line 3: unknown record type "zset"/)

    await writeSignedBackup(
      join(dir, 'outside.jsonl'),
      [
        {key: 'oauth:client:a', type: 'string', value: '{}', expires_at_ms: null},
        {key: 'config:admin', type: 'string', value: 'x', expires_at_ms: null},
      ],
      {kinds: {client: 1, other: 1}, types: {string: 2}},
    )
    await assertRefused(join(dir, 'outside.jsonl'), /line 3: key "config:admin" lies outside oauth:/)

    await writeSignedBackup(join(dir, 'counts.jsonl'), [{key: 'oauth:client:a', type: 'string', value: '{}', expires_at_ms: null}], {
      kinds: {client: 2},
      types: {string: 1},
    })
    await assertRefused(join(dir, 'counts.jsonl'), /its counts do not match its records/)
  })
})

describe("oauth-restore of the gateway's older JSON backups", () => {
  const ctx = useRedis()

  /** A file as the gateway's backup script wrote it: json.dump(indent=2, sort_keys=True), TTLs in seconds. */
  async function legacyFile(timestamp: unknown): Promise<string> {
    const token = {
      sub: '1001',
      username: 'alice',
      email: null,
      name: 'Alice',
      scope: 'openid',
      client_id: 'client_abc',
      created_at: nowSeconds() - 100,
      expires_at: nowSeconds() + 3500,
    }
    const document = {
      codes: {},
      metadata: {total_registrations: 1, total_sessions: 1, total_refresh_tokens: 0, total_tokens: 2},
      refresh_tokens: {},
      registrations: {
        client_abc: {parsed: {client_id: 'client_abc'}, ttl: -1, type: 'string', value: pythonJson({client_id: 'client_abc', client_name: 'Old'})},
      },
      sessions: {'xyz:state': {ttl: 300, type: 'string', value: '{}'}},
      states: {gone: {ttl: 60, type: 'string', value: '{}'}},
      timestamp,
      tokens: {jti_alive: {ttl: 3600, type: 'string', value: pythonJson(token)}},
      user_tokens: {
        alice: {ttl: -1, type: 'set', value: JSON.stringify(['jti_alive', 'jti_older'])},
        queue: {ttl: 7200, type: 'list', value: JSON.stringify(['b', 'a', 'b'])},
        profile: {type: 'hash', value: {plan: 'pro', seats: '3'}},
      },
    }
    const file = join(await tempDir(), 'oauth-backup-20250620-103000.json')
    await writeFile(file, JSON.stringify(document, null, 2))
    return file
  }

  it("restores strings, sets, lists and hashes with TTLs counted from the file's timestamp", async () => {
    const takenAt = new Date(Date.now() - 100_000).toISOString().replace('Z', '123+00:00')
    const result = await ctx.cli(['oauth-restore', await legacyFile(takenAt), '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.deepEqual(
      [body.format, body.expiry, body.records, body.written, body.skipped_expired, body.ignored],
      ['gateway-json', 'from_backup_timestamp', 6, 5, 1, 1],
    )
    assert.match(result.stderr, /TTLs are counted from its timestamp/)
    assert.match(result.stderr, /1 entries outside oauth: \(sessions\) are not restored/)
    assert.equal(await ctx.redis.get('oauth:client:client_abc'), '{"client_id": "client_abc", "client_name": "Old"}')
    assert.equal(await ctx.redis.pttl('oauth:client:client_abc'), -1)
    assert.equal(JSON.parse((await ctx.redis.get('oauth:token:jti_alive'))!).username, 'alice')
    const tokenTtl = await ctx.redis.pttl('oauth:token:jti_alive')
    assert.ok(tokenTtl <= 3_500_000 && tokenTtl > 3_490_000, `TTL ${tokenTtl} ms: 3600 s recorded, taken 100 s ago`)
    assert.deepEqual((await ctx.redis.smembers('oauth:user_tokens:alice')).sort(), ['jti_alive', 'jti_older'])
    assert.deepEqual(await ctx.redis.lrange('oauth:user_tokens:queue', 0, -1), ['b', 'a', 'b'])
    assert.deepEqual(await ctx.redis.hgetall('oauth:user_tokens:profile'), {plan: 'pro', seats: '3'})
    assert.equal(await ctx.redis.exists('oauth:state:gone'), 0, 'a 60 s state taken 100 s ago has expired')
  })

  it('applies the recorded TTLs from now when the timestamp cannot be read, and says so', async () => {
    const result = await ctx.cli(['oauth-restore', await legacyFile('sometime last week'), '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.deepEqual([body.expiry, body.backup_created_at, body.written, body.skipped_expired], ['as_recorded', null, 6, 0])
    assert.match(result.stderr, /without a readable timestamp: TTLs are applied as recorded/)
    const stateTtl = await ctx.redis.pttl('oauth:state:gone')
    assert.ok(stateTtl <= 60_000 && stateTtl > 55_000, `TTL ${stateTtl} ms`)
  })

  it('rejects an entry of an unknown type, naming it, with Redis untouched', async () => {
    const file = join(await tempDir(), 'oauth-backup-20250620-103000.json')
    await writeFile(
      file,
      JSON.stringify({
        timestamp: '2025-06-20T10:30:00+00:00',
        metadata: {},
        tokens: {a: {type: 'string', value: '{}', ttl: 60}, b: {type: 'stream', value: '[]', ttl: -1}},
      }),
    )
    await ctx.redis.set('oauth:client:sentinel', 'x')
    const result = await ctx.cli(['oauth-restore', file])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /is not a valid gateway backup: tokens\["b"\]: unknown record type "stream"/)
    assert.deepEqual(await ctx.redis.keys('*'), ['oauth:client:sentinel'])
  })
})
