import {strict as assert} from 'node:assert'
import {readFile, readdir, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {latestBackup} from '../../src/backup/catalog.js'
import {nextBackupName} from '../../src/backup/format.js'
import {assertUnchanged, contents, fillGateway, flushAll, snapshot, tempDir} from '../support/backups.js'
import {parseJson} from '../support/cli.js'
import {describeOnEachRedis, useRedis} from '../support/context.js'

const PASSPHRASE = {MCPAUTH_BACKUP_PASSPHRASE: 'correct horse battery staple'}

describeOnEachRedis('oauth-backup and oauth-restore', (ctx) => {
  /** Backs up into a fresh directory and returns the file and the --json result. */
  async function backup(flags: string[] = [], env: Record<string, string> = {}) {
    const cwd = await tempDir()
    const result = await ctx.cli(['oauth-backup', '--json', ...flags], {cwd, env})
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    return {cwd, file: join(cwd, body.file), body}
  }

  async function restore(file: string, flags: string[] = [], env: Record<string, string> = {}) {
    const result = await ctx.cli(['oauth-restore', file, '--json', ...flags], {env})
    assert.equal(result.code, 0, result.stderr)
    return parseJson(result)
  }

  it('round-trips every key, type and value, and never lengthens a TTL', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    await ctx.redis.set('session:not-oauth', 'left out')
    await ctx.redis.zadd('oauth:leaderboard', 1, 'alice')
    const before = await snapshot(ctx.redis)
    before.delete('oauth:leaderboard')

    const {cwd, file, body} = await backup()
    assert.match(body.file, /^backups\/oauth-backup-\d{8}-\d{6}\.jsonl$/)
    assert.equal(body.records, 13)
    assert.deepEqual(body.kinds, {client: 2, state: 1, code: 1, token: 3, refresh: 1, user_tokens: 2, other: 3})
    assert.deepEqual(body.types, {string: 9, set: 2, list: 1, hash: 1})
    assert.equal(body.skipped_unsupported, 1)
    assert.deepEqual(body.skipped_keys, ['oauth:leaderboard (zset)'])
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.equal((await stat(join(cwd, 'backups'))).mode & 0o777, 0o700)
    assert.deepEqual(await readdir(join(cwd, 'backups')), [body.file.slice('backups/'.length)], 'no temporary file is left')

    await flushAll(ctx.redis)
    const restored = await restore(file)
    assert.deepEqual(
      {written: restored.written, kept: restored.kept, overwritten: restored.overwritten, skipped_expired: restored.skipped_expired, expiry: restored.expiry},
      {written: 13, kept: 0, overwritten: 0, skipped_expired: 0, expiry: 'absolute'},
    )
    const after = await snapshot(ctx.redis)
    assert.deepEqual(contents(after), contents(before))
    for (const [key, {pttl}] of before) {
      const restoredTtl = after.get(key)!.pttl
      if (pttl === -1) assert.equal(restoredTtl, -1, `${key} has no TTL`)
      else assert.ok(restoredTtl <= pttl && restoredTtl > pttl - 10_000, `${key}: TTL ${restoredTtl} ms after restore, ${pttl} ms before`)
    }
    assert.equal(await ctx.redis.exists('session:not-oauth'), 0)
  })

  it('round-trips through gzip', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    const before = contents(await snapshot(ctx.redis))
    const {file, body} = await backup(['--gzip'])
    assert.match(file, /\.jsonl\.gz$/)
    assert.deepEqual([...(await readFile(file)).subarray(0, 2)], [0x1f, 0x8b])
    assert.equal(body.gzip, true)
    await flushAll(ctx.redis)
    assert.equal((await restore(file)).written, 13)
    assert.deepEqual(contents(await snapshot(ctx.redis)), before)
  })

  it('round-trips sets, hashes and lists larger than one read, next to small ones', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    const many = (count: number, prefix: string) => Array.from({length: count}, (_, index) => `${prefix}${index}`)
    await ctx.redis.sadd('oauth:user_tokens:busy', ...many(2500, 'jti-'))
    await ctx.redis.hset('oauth:meta:wide', Object.fromEntries(many(1500, 'field-').map((field) => [field, `value of ${field}`])))
    await ctx.redis.rpush('oauth:queue:long', ...many(2200, 'item-'), 'item-0')
    await ctx.redis.pexpire('oauth:user_tokens:busy', 900_000)
    const before = await snapshot(ctx.redis)
    const {file, body} = await backup()
    assert.equal(body.records, 16)
    await flushAll(ctx.redis)
    assert.equal((await restore(file)).written, 16)
    assertUnchanged(await snapshot(ctx.redis), before)
  })

  it('round-trips values and sets past what one read may copy, and a string named like an index set', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    // Twelve 200 KB values: more than one call of the walk may copy, so some are read again by key, some in pages.
    for (let index = 0; index < 12; index++) await ctx.redis.set(`oauth:client:wide-${index}`, `${index}`.repeat(200 * 1024), 'EX', 3600)
    await ctx.redis.set('oauth:user_tokens:not-a-set', 'a string where a set belongs', 'EX', 600)
    // Thirty sets of 200: more members than one call reads in all.
    for (let user = 0; user < 30; user++)
      await ctx.redis.sadd(`oauth:user_tokens:member-${user}`, ...Array.from({length: 200}, (_, index) => `jti-${user}-${index}`))
    const before = await snapshot(ctx.redis)
    const {file, body} = await backup()
    assert.equal(body.records, 13 + 13 + 30)
    await flushAll(ctx.redis)
    assert.equal((await restore(file)).written, 13 + 13 + 30)
    assertUnchanged(await snapshot(ctx.redis), before)
  })

  it('round-trips encrypted, and holds no secret in the clear', async () => {
    const {vscode} = await fillGateway(ctx.gateway, ctx.redis)
    const before = contents(await snapshot(ctx.redis))
    const {file, body} = await backup(['--encrypt', '--gzip'], PASSPHRASE)
    assert.match(file, /\.jsonl\.gz\.enc$/)
    assert.equal(body.encrypted, true)
    const bytes = await readFile(file)
    assert.ok(bytes.subarray(0, 25).equals(Buffer.from('MCPAUTH-ENCRYPTED-BACKUP\n')))
    assert.equal(bytes.indexOf(vscode.record.client_secret), -1)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    await flushAll(ctx.redis)
    const restored = await restore(file, [], PASSPHRASE)
    assert.deepEqual([restored.written, restored.encrypted, restored.gzip], [13, true, true])
    assert.deepEqual(contents(await snapshot(ctx.redis)), before)
  })

  it('refuses a wrong or missing passphrase with exit 4 and leaves Redis untouched', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    const {file} = await backup(['--encrypt'], PASSPHRASE)
    await flushAll(ctx.redis)
    await ctx.redis.set('oauth:client:sentinel', 'kept')
    const wrong = await ctx.cli(['oauth-restore', file], {env: {MCPAUTH_BACKUP_PASSPHRASE: 'not it'}})
    assert.equal(wrong.code, 4)
    assert.match(wrong.stderr, /^Error: Wrong passphrase for .*\.jsonl\.enc: MCPAUTH_BACKUP_PASSPHRASE does not open it\.\n/)
    assert.doesNotMatch(wrong.stderr, /\n\s+at /)
    const missing = await ctx.cli(['oauth-restore', file, '--json'])
    assert.equal(missing.code, 4)
    assert.equal(parseJson(missing).error.code, 'backup_passphrase')
    assert.deepEqual([...(await snapshot(ctx.redis)).keys()], ['oauth:client:sentinel'])
  })

  it('--encrypt without MCPAUTH_BACKUP_PASSPHRASE exits 2 and writes no file', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    const cwd = await tempDir()
    const result = await ctx.cli(['oauth-backup', '--encrypt'], {cwd})
    assert.equal(result.code, 2)
    assert.match(result.stderr, /--encrypt needs the passphrase in MCPAUTH_BACKUP_PASSPHRASE/)
    assert.deepEqual(await readdir(cwd), [])
  })

  it('refuses to overwrite an existing file', async () => {
    const {file} = await backup()
    const original = await readFile(file)
    const again = await ctx.cli(['oauth-backup', '--output', file])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists: a backup is never overwritten/)
    assert.deepEqual(await readFile(file), original)
  })

  it('skips and counts records that expired after the backup was taken', async () => {
    // Long enough for the backup to take them on a busy machine; the test then waits until Redis has expired them.
    const shortTtl = 4
    const {clientId} = await ctx.gateway.client({ttl: null})
    await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: shortTtl, ttl: shortTtl})
    await ctx.gateway.state({clientId, ttl: shortTtl})
    await ctx.redis.set('oauth:code:short', 'x', 'EX', shortTtl)
    const taken = await backup()
    assert.equal(taken.body.records, 5, 'a short-lived record expired before the backup took it: raise shortTtl')
    while ((await ctx.redis.exists('oauth:code:short')) > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    await flushAll(ctx.redis)
    const restored = await restore(taken.file)
    assert.deepEqual([restored.records, restored.written, restored.skipped_expired], [5, 2, 3])
    const keys = [...(await snapshot(ctx.redis)).keys()].sort()
    assert.deepEqual(keys, [`oauth:client:${clientId}`, 'oauth:user_tokens:alice'])
  })

  it('--dry-run on a non-empty Redis reports exactly what each mode would do and writes nothing', async () => {
    const {tokens} = await fillGateway(ctx.gateway, ctx.redis)
    const {file} = await backup()
    // After the backup: two keys gone, one changed, one new.
    // One key per call: on a cluster the two live in different slots.
    await ctx.redis.del(`oauth:token:${tokens[0].jti}`)
    await ctx.redis.del('oauth:queue:pending')
    await ctx.redis.set(`oauth:token:${tokens[1].jti}`, 'changed since', 'EX', 60)
    await ctx.redis.set('oauth:state:new-since', 'x', 'EX', 60)
    const before = await snapshot(ctx.redis)

    const pick = (body: any) => [body.written, body.kept, body.overwritten, body.skipped_expired, body.cleared]
    assert.deepEqual(pick(await restore(file, ['--dry-run'])), [2, 11, 0, 0, 0])
    assert.deepEqual(pick(await restore(file, ['--dry-run', '--overwrite'])), [2, 0, 11, 0, 0])
    assert.deepEqual(pick(await restore(file, ['--dry-run', '--clear'])), [13, 0, 0, 0, 12])
    assertUnchanged(await snapshot(ctx.redis), before, 'a dry run wrote something')

    const merged = await restore(file)
    assert.deepEqual(pick(merged), [2, 11, 0, 0, 0], 'the real run does what the dry run said')
    assert.equal(await ctx.redis.get(`oauth:token:${tokens[1].jti}`), 'changed since', 'merge keeps existing keys')
    assert.equal(await ctx.redis.exists(`oauth:token:${tokens[0].jti}`), 1)
    assert.equal(await ctx.redis.exists('oauth:queue:pending'), 1)
  })

  it('--overwrite and --clear replace data only with --yes when not on a terminal', async () => {
    const {tokens} = await fillGateway(ctx.gateway, ctx.redis)
    const {file} = await backup()
    const tokenKey = `oauth:token:${tokens[0].jti}`
    await ctx.redis.set(tokenKey, 'changed since')
    await ctx.redis.set('oauth:state:new-since', 'x')
    const before = await snapshot(ctx.redis)
    for (const flag of ['--overwrite', '--clear']) {
      const refused = await ctx.cli(['oauth-restore', file, flag])
      assert.equal(refused.code, 2)
      assert.match(refused.stderr, /Refusing without confirmation/)
    }
    const clear = await ctx.cli(['oauth-restore', file, '--clear'])
    assert.match(clear.stderr, /Delete every oauth:\* key in .* \(14 keys\), then restore 13 records from /, 'the question says how much will go')
    assertUnchanged(await snapshot(ctx.redis), before)

    const overwritten = await restore(file, ['--overwrite', '--yes'])
    assert.deepEqual([overwritten.written, overwritten.overwritten], [0, 13])
    assert.notEqual(await ctx.redis.get(tokenKey), 'changed since')
    assert.equal(await ctx.redis.exists('oauth:state:new-since'), 1, '--overwrite keeps keys the backup does not have')

    const cleared = await restore(file, ['--clear', '--yes'])
    assert.deepEqual([cleared.cleared, cleared.written, cleared.overwritten], [14, 13, 0])
    assert.equal(await ctx.redis.exists('oauth:state:new-since'), 0, '--clear removes keys the backup does not have')
  })

  it('restores the newest backup with --latest', async () => {
    const cwd = await tempDir()
    await ctx.redis.set('oauth:client:old', 'old')
    assert.equal((await ctx.cli(['oauth-backup', '--output', 'backups/oauth-backup-20250101-000000.jsonl'], {cwd})).code, 0)
    await ctx.redis.set('oauth:client:new', 'new')
    assert.equal((await ctx.cli(['oauth-backup', '--output', 'backups/oauth-backup-20250102-000000.jsonl'], {cwd})).code, 0)
    await flushAll(ctx.redis)
    const result = await ctx.cli(['oauth-restore', '--latest', '--json'], {cwd})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).file, 'backups/oauth-backup-20250102-000000.jsonl')
    assert.deepEqual([...(await snapshot(ctx.redis)).keys()].sort(), ['oauth:client:new', 'oauth:client:old'])
  })

  it('numbers a second backup of the same second instead of refusing it, and --latest takes the later one', async () => {
    const cwd = await tempDir()
    const at = '20250103-120000'
    await ctx.redis.set('oauth:client:first', 'first')
    assert.equal((await ctx.cli(['oauth-backup', '--output', `backups/oauth-backup-${at}.jsonl`], {cwd})).code, 0)
    await ctx.redis.set('oauth:client:second', 'second')
    // Default names are the current second's; a backup named for that second is already there when the next one starts.
    const runs = await Promise.all([ctx.cli(['oauth-backup', '--json'], {cwd}), ctx.cli(['oauth-backup', '--json'], {cwd})])
    for (const run of runs) assert.equal(run.code, 0, run.stderr)
    const files = runs.map((run) => parseJson(run).file as string)
    assert.notEqual(files[0], files[1], 'two backups started together got one name')
    for (const file of files) assert.match(file, /^backups\/oauth-backup-\d{8}-\d{6}(-\d+)?\.jsonl$/)
    assert.equal((await readdir(join(cwd, 'backups'))).filter((name) => name.startsWith('oauth-backup-')).length, 3)
    const secondOf = (file: string) => /oauth-backup-(\d{8}-\d{6})/.exec(file)?.[1]
    const sameSecond = secondOf(files[0]) === secondOf(files[1])
    if (sameSecond) {
      const numbered = files.find((file) => /-\d{6}-2\.jsonl$/.test(file))
      assert.ok(numbered, `one of ${files.join(', ')} is numbered -2`)
      const latest = await ctx.cli(['oauth-restore', '--latest', '--dry-run', '--json'], {cwd})
      assert.equal(parseJson(latest).file, numbered)
    }
  })

  it('lists the backup commands in --help, each with examples', async () => {
    const help = await ctx.cli(['--help'])
    for (const id of ['oauth-backup', 'oauth-restore', 'oauth-backup-list']) assert.match(help.stdout, new RegExp(`^ +${id} +\\S`, 'm'))
    const restoreHelp = await ctx.cli(['oauth-restore', '--help'])
    assert.match(restoreHelp.stdout, /EXAMPLES[\s\S]*mcpauth oauth-restore --latest --dry-run/)
  })

  it('exits 2 without a file or --latest, and for a file that does not exist', async () => {
    const none = await ctx.cli(['oauth-restore'])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /Name the backup file to restore, or pass --latest/)
    const missing = await ctx.cli(['oauth-restore', '/nonexistent/oauth-backup.jsonl'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /Backup \/nonexistent\/oauth-backup.jsonl does not exist/)
  })
})

describe('oauth-restore --clear on a large database', () => {
  const ctx = useRedis()

  it('estimates how many keys will go from a sample, without walking them', async () => {
    const redis = ctx.server.client()
    try {
      for (let start = 0; start < 40_000; start += 5000) {
        const pipeline = redis.pipeline()
        for (let n = start; n < start + 5000; n++) pipeline.set(n % 4 === 0 ? `session:${n}` : `oauth:token:t${n}`, 'x')
        await pipeline.exec()
      }
      await ctx.redis.set('oauth:client:only', '{}')
      const file = join(await tempDir(), 'small.jsonl')
      assert.equal((await ctx.cli(['oauth-backup', '--output', file])).code, 0)
      const refused = await ctx.cli(['oauth-restore', file, '--clear'])
      assert.equal(refused.code, 2)
      const estimate = Number(/\(about ([\d,]+) keys\)/.exec(refused.stderr)?.[1].replace(/,/g, ''))
      assert.ok(estimate > 30_001 * 0.75 && estimate < 30_001 * 1.25, `${estimate} for 30,001 oauth:* keys: ${refused.stderr}`)
    } finally {
      redis.disconnect()
    }
  })
})

// A single server only: on a cluster, ioredis's auto-pipelining files a key that is not UTF-8 under the slot of
// its UTF-8 decoding and then refuses the pipeline ("slots allocation group"), in the test's own set-up as in mcpauth.
describe('oauth-backup of keys and values that are not UTF-8', () => {
  const ctx = useRedis()

  it('round-trips them byte for byte', async () => {
    const binaryKey = Buffer.concat([Buffer.from('oauth:client:'), Buffer.from([0xff, 0xfe, 0x00, 0x80])])
    const binaryValue = Buffer.from([0xc3, 0x28, 0x00, 0xff, 0x7b])
    await ctx.redis.set(binaryKey, binaryValue, 'EX', 3600)
    await ctx.redis.sadd('oauth:user_tokens:\u00e9', Buffer.from([0xe9, 0x01]), 'plain')
    const file = join(await tempDir(), 'binary.jsonl')
    assert.equal((await ctx.cli(['oauth-backup', '--output', file])).code, 0)
    await flushAll(ctx.redis)
    const restored = await ctx.cli(['oauth-restore', file, '--json'])
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(parseJson(restored).written, 2)
    assert.deepEqual(await ctx.redis.getBuffer(binaryKey), binaryValue)
    assert.ok((await ctx.redis.pttl(binaryKey)) > 3_590_000)
    assert.deepEqual(
      (await ctx.redis.smembersBuffer('oauth:user_tokens:\u00e9')).map((member) => member.toString('hex')).sort(),
      ['e901', Buffer.from('plain').toString('hex')].sort(),
    )
  })
})

describe('default backup names', () => {
  it('numbers the names of one second in order, and --latest order follows the number', async () => {
    const dir = await tempDir()
    assert.equal(nextBackupName('oauth-backup-20250103-120000.jsonl'), 'oauth-backup-20250103-120000-2.jsonl')
    assert.equal(nextBackupName('oauth-backup-20250103-120000-2.jsonl'), 'oauth-backup-20250103-120000-3.jsonl')
    for (const name of ['oauth-backup-20250103-120000.jsonl', 'oauth-backup-20250103-120000-2.jsonl']) await writeFile(join(dir, name), '')
    assert.equal(nextBackupName('oauth-backup-20250103-120000.jsonl.gz.enc'), 'oauth-backup-20250103-120000-2.jsonl.gz.enc')
    assert.equal(nextBackupName('oauth-backup-20250103-120000-9.jsonl'), 'oauth-backup-20250103-120000-10.jsonl')
    await writeFile(join(dir, 'oauth-backup-20250103-120000-10.jsonl'), '')
    assert.equal(await latestBackup(dir), join(dir, 'oauth-backup-20250103-120000-10.jsonl'))
  })
})
