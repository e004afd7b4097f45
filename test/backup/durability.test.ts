import {strict as assert} from 'node:assert'
import {readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {Redis} from 'ioredis'

import {assertUnchanged, contents, fillGateway, snapshot, tempDir, truncateFile} from '../support/backups.js'
import {type CliResult, parseJson, runCli, spawnCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {TestRedisServer, freePort} from '../support/redis-server.js'

const RECORDS = 50_000
const PASSPHRASE = {MCPAUTH_BACKUP_PASSPHRASE: 'correct horse battery staple'}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** 50,000 keys: access tokens, plus user index sets of 2,000 members each, so a key cut in half would show. */
async function fillMany(redis: Redis): Promise<void> {
  for (let start = 0; start < RECORDS; start += 1000) {
    const pipeline = redis.pipeline()
    for (let n = start; n < start + 1000; n++) {
      if (n % 2500 === 0) pipeline.sadd(`oauth:user_tokens:user${n}`, ...Array.from({length: 2000}, (_, member) => `jti-${n}-${member}`))
      else
        pipeline.set(
          `oauth:token:jti${n}`,
          JSON.stringify({username: `user${n % 97}`, client_id: 'client_x', expires_at: 2e9, note: 'x'.repeat(120)}),
          'EX',
          86_400,
        )
    }
    await pipeline.exec()
  }
}

/** Waits until `ready` holds, polling quickly; fails after 30 s. */
async function waitFor(ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

describe('backups under interruption', function () {
  this.timeout(120_000)
  const ctx = useRedis()
  // A single server (useRedis' default): fillMany pipelines keys of every slot together.
  const redis = () => ctx.redis as Redis

  it('a restore killed half-way leaves only complete keys, and running it again finishes the job', async () => {
    await fillMany(redis())
    const original = await snapshot(ctx.redis)
    assert.equal(original.size, RECORDS)
    const file = join(await tempDir(), 'big.jsonl')
    const made = await ctx.cli(['oauth-backup', '--output', file])
    assert.equal(made.code, 0, made.stderr)
    await ctx.redis.flushdb()

    const {child, result} = await spawnCli(['oauth-restore', file], {env: {REDIS_URL: ctx.server.url}})
    await waitFor(async () => (await redis().dbsize()) > 0, 'the restore to start writing')
    child.kill('SIGKILL')
    assert.equal((await result).code, null, 'killed before it finished')

    const partial = await snapshot(ctx.redis)
    assert.ok(partial.size > 0 && partial.size < RECORDS, `${partial.size} keys restored before the kill`)
    for (const [key, restored] of partial) {
      const source = original.get(key)!
      assert.deepEqual({type: restored.type, value: restored.value}, {type: source.type, value: source.value}, `${key} is complete`)
      assert.ok(source.pttl === -1 ? restored.pttl === -1 : restored.pttl <= source.pttl, `${key} keeps its expiry`)
    }

    const again = await ctx.cli(['oauth-restore', file, '--json'])
    assert.equal(again.code, 0, again.stderr)
    const body = parseJson(again)
    assert.deepEqual([body.written, body.kept, body.skipped_expired], [RECORDS - partial.size, partial.size, 0])
    assert.deepEqual(contents(await snapshot(ctx.redis)), contents(original))
  })

  it('Ctrl-C during a restore exits 130, leaves every key as before or as after, and a second run completes', async () => {
    await fillMany(redis())
    const original = await snapshot(ctx.redis)
    const file = join(await tempDir(), 'big.jsonl')
    assert.equal((await ctx.cli(['oauth-backup', '--output', file])).code, 0)
    await ctx.redis.flushdb()

    const {child, result} = await spawnCli(['oauth-restore', file], {env: {REDIS_URL: ctx.server.url}})
    let finished = false
    void result.then(() => (finished = true))
    // Evidence, not a clock: the first batch is in Redis.
    await waitFor(async () => finished || (await redis().dbsize()) > 0, 'the restore to write its first batch')
    assert.equal(finished, false, 'the restore ended before it wrote anything')
    child.kill('SIGINT')
    const {code, stderr} = await result
    assert.notEqual(code, 0, 'the restore finished before Ctrl-C reached it: give it more records')
    assert.equal(code, 130, stderr)
    assert.match(stderr, /Interrupted after [\d,]+ of 50,000 records\. [\d,]+ keys were written, each complete\. Run the same command again to finish\./)

    const partial = await snapshot(ctx.redis)
    assert.ok(partial.size > 0 && partial.size < RECORDS, `${partial.size} keys restored before Ctrl-C`)
    for (const [key, restored] of partial) {
      const source = original.get(key)!
      assert.deepEqual({type: restored.type, value: restored.value}, {type: source.type, value: source.value}, `${key} is complete`)
    }
    const again = await ctx.cli(['oauth-restore', file, '--json'])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual([parseJson(again).written, parseJson(again).kept], [RECORDS - partial.size, partial.size])
    assert.deepEqual(contents(await snapshot(ctx.redis)), contents(original))
  })

  it('two backups racing for one --output end with one complete file and one clear refusal', async () => {
    await fillMany(redis())
    const dir = await tempDir()
    const file = join(dir, 'same.jsonl')
    const runs = await Promise.all([1, 2].map(() => spawnCli(['oauth-backup', '--output', file], {env: {REDIS_URL: ctx.server.url}})))
    let ended = 0
    for (const run of runs) void run.result.then(() => ended++)
    // Both past the "does it exist" check: each has its temporary file.
    await waitFor(async () => ended > 0 || (await readdir(dir)).filter((name) => name.endsWith('.tmp')).length === 2, 'both backups to be writing')
    assert.equal(ended, 0, 'one backup ended before the other had started writing: the race did not happen')
    const results = await Promise.all(runs.map((run) => run.result))
    assert.deepEqual(results.map(({code}) => code).sort(), [0, 2], results.map(({stderr}) => stderr).join('\n'))
    assert.match(results.find(({code}) => code === 2)!.stderr, /same\.jsonl already exists: a backup is never overwritten/)
    assert.deepEqual(await readdir(dir), ['same.jsonl'], 'no temporary file is left')
    const check = await ctx.cli(['oauth-restore', file, '--dry-run', '--json'])
    assert.equal(check.code, 0, check.stderr)
    assert.equal(parseJson(check).records, RECORDS)
  })

  it('Ctrl-C during a backup exits 130 and leaves no file', async () => {
    await fillMany(redis())
    const dir = await tempDir()
    const {child, result} = await spawnCli(['oauth-backup', '--dir', dir], {env: {REDIS_URL: ctx.server.url}})
    await waitFor(async () => (await readdir(dir)).length > 0, 'the backup to start writing')
    child.kill('SIGINT')
    const {code, stderr} = await result
    assert.equal(code, 130, stderr)
    assert.match(stderr, /Interrupted: the unfinished backup file was removed/)
    assert.deepEqual(await readdir(dir), [])
  })

  it('Redis dying during a backup exits 4 and leaves no file', async () => {
    const server = await new TestRedisServer().start()
    const redis = server.client()
    redis.on('error', () => {}) // this test's own client loses the server too
    try {
      await fillMany(redis)
      const dir = await tempDir()
      const {result} = await spawnCli(['oauth-backup', '--dir', dir], {env: {REDIS_URL: server.url}})
      await waitFor(async () => (await readdir(dir)).length > 0, 'the backup to start writing')
      await server.kill('SIGKILL')
      const {code, stderr} = await result
      assert.equal(code, 4, stderr)
      assert.match(stderr, /^Error: Lost the connection to Redis/)
      assert.doesNotMatch(stderr, /\n\s+at /)
      assert.deepEqual(await readdir(dir), [])
    } finally {
      redis.disconnect()
      await server.stop()
    }
  })
})

describe('backups of large values', function () {
  this.timeout(120_000)
  let server: TestRedisServer
  let redis: Redis
  before(async () => {
    // Redis logs every command that takes it 10 ms or more.
    server = await new TestRedisServer().start(['--slowlog-log-slower-than', '10000', '--slowlog-max-len', '1000'])
    redis = server.client()
  })
  after(async () => {
    redis.disconnect()
    await server.stop()
  })

  /**
   * Commands Redis spent more than `ms` on since the last reset. The rule is
   * 10 ms; on a busy shared machine CPU waits alone stretch single commands
   * to tens of ms, so the check is for what a whole large value in one
   * command costs (hundreds of ms), with margin.
   */
  async function slowCommands(ms: number): Promise<string[]> {
    const entries = (await redis.slowlog('GET', 1000)) as Array<[number, number, number, unknown[]]>
    return entries
      .filter(([, , micros]) => micros > ms * 1000)
      .map(([, , micros, args]) => `${(micros / 1000).toFixed(1)} ms: ${String(args[0])} ${String(args[1]).slice(0, 40)}`)
  }

  it('reads and writes a million-member set, a 2 MB string, a wide hash and a long list in short commands, exactly', async () => {
    const members = Array.from({length: 1_000_000}, (_, index) => `m-${index}`)
    for (let start = 0; start < members.length; start += 10_000) await redis.sadd('oauth:user_tokens:busy', ...members.slice(start, start + 10_000))
    await redis.set('oauth:client:big', 'x'.repeat(2 * 1024 * 1024), 'EX', 3600)
    await redis.hset('oauth:meta:wide', Object.fromEntries(members.slice(0, 50_000).map((member) => [member, `value of ${member}`])))
    await redis.rpush('oauth:queue:long', ...members.slice(0, 100_000))
    await redis.set('oauth:token:small', '{}', 'EX', 3600)
    const before = await snapshot(redis)
    const file = join(await tempDir(), 'large.jsonl')
    await redis.slowlog('RESET')
    const made = await runCli(['oauth-backup', '--output', file, '--json'], {env: {REDIS_URL: server.url}})
    assert.equal(made.code, 0, made.stderr)
    assert.equal(parseJson(made).records, 5)
    assert.deepEqual(await slowCommands(100), [], 'the backup kept Redis busy')

    await redis.flushdb()
    await redis.slowlog('RESET')
    const restored = await runCli(['oauth-restore', file, '--json'], {env: {REDIS_URL: server.url}})
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(parseJson(restored).written, 5)
    assert.deepEqual(await slowCommands(100), [], 'the restore kept Redis busy')
    assertUnchanged(await snapshot(redis), before)
    assert.deepEqual(await redis.keys('mcpauth:*'), [], 'no staging key is left')
  })
})

describe('backups of values too large for a backup line', () => {
  const ctx = useRedis()

  it('leaves out a 17 MB value and names it, so the backup stays restorable', async () => {
    await ctx.redis.set('oauth:client:\u001b[2Jhuge', 'x'.repeat(17 * 1024 * 1024))
    await ctx.redis.set('oauth:client:normal', '{}')
    const file = join(await tempDir(), 'skips.jsonl')
    const made = await ctx.cli(['oauth-backup', '--output', file])
    assert.equal(made.code, 0, made.stderr)
    assert.match(made.stderr, /Left out 1 key\(s\) of a type a backup does not hold or too large for it: oauth:client:\\x1B\[2Jhuge \(larger than 16 MiB\)/)
    const restored = await ctx.cli(['oauth-restore', file, '--dry-run', '--json'])
    assert.equal(restored.code, 0, restored.stderr)
    assert.equal(parseJson(restored).records, 1)
  })
})

describe('oauth-backup-list', () => {
  const ctx = useRedis()

  it('lists every backup with its date, counts, format and state while Redis is down', async () => {
    await fillGateway(ctx.gateway, ctx.redis)
    const dir = await tempDir()
    const backup = async (name: string, flags: string[] = [], env = {}) => {
      const result = await ctx.cli(['oauth-backup', '--output', join(dir, name), ...flags], {env})
      assert.equal(result.code, 0, result.stderr)
    }
    await backup('oauth-backup-20250101-000000.jsonl')
    await backup('oauth-backup-20250102-000000.jsonl.gz', ['--gzip'])
    await backup('oauth-backup-20250103-000000.jsonl.gz.enc', ['--gzip', '--encrypt'], PASSPHRASE)
    await backup('oauth-backup-20250104-000000.jsonl')
    await truncateFile(join(dir, 'oauth-backup-20250104-000000.jsonl'), -10)
    await writeFile(
      join(dir, 'oauth-backup-20250620-103000.json'),
      JSON.stringify({timestamp: '2025-06-20T10:30:00+00:00', metadata: {}, tokens: {a: {type: 'string', value: '{}', ttl: 60}}}),
    )
    await writeFile(join(dir, 'README.txt'), 'not a backup, not listed')

    const down = `redis://127.0.0.1:${await freePort()}/0`
    const list = async (env: Record<string, string> = {}): Promise<CliResult> =>
      runCli(['oauth-backup-list', '--dir', dir, '--json'], {env: {REDIS_URL: down, ...env}})
    const locked = await list()
    assert.equal(locked.code, 0, locked.stderr)
    const rows = parseJson<any[]>(locked).map(({file, format, gzip, encrypted, status, records, created_at}) => ({
      file,
      format,
      gzip,
      encrypted,
      status,
      records,
      created_at,
    }))
    assert.deepEqual(rows, [
      {
        file: 'oauth-backup-20250620-103000.json',
        format: 'gateway-json',
        gzip: false,
        encrypted: false,
        status: 'complete',
        records: 1,
        created_at: '2025-06-20T10:30:00.000Z',
      },
      {
        file: 'oauth-backup-20250104-000000.jsonl',
        format: null,
        gzip: false,
        encrypted: false,
        status: 'damaged',
        records: null,
        created_at: '2025-01-04T00:00:00.000Z',
      },
      {
        file: 'oauth-backup-20250103-000000.jsonl.gz.enc',
        format: null,
        gzip: true,
        encrypted: true,
        status: 'locked',
        records: null,
        created_at: '2025-01-03T00:00:00.000Z',
      },
      {
        file: 'oauth-backup-20250102-000000.jsonl.gz',
        format: 'mcpauth-backup/1',
        gzip: true,
        encrypted: false,
        status: 'complete',
        records: 13,
        created_at: rows[3].created_at,
      },
      {
        file: 'oauth-backup-20250101-000000.jsonl',
        format: 'mcpauth-backup/1',
        gzip: false,
        encrypted: false,
        status: 'complete',
        records: 13,
        created_at: rows[4].created_at,
      },
    ])
    assert.ok(Date.now() - Date.parse(rows[4].created_at) < 60_000, 'a complete backup shows the time in its header')
    assert.match(parseJson<any[]>(locked)[1].problem, /^is damaged: line 15 is not a JSON object$/)
    assert.deepEqual(parseJson<any[]>(locked)[3].kinds, {client: 2, state: 1, code: 1, token: 3, refresh: 1, user_tokens: 2, other: 3})

    const unlocked = parseJson<any[]>(await list(PASSPHRASE))
    assert.deepEqual([unlocked[2].status, unlocked[2].records, unlocked[2].format], ['complete', 13, 'mcpauth-backup/1'])

    const table = await runCli(['oauth-backup-list', '--dir', dir], {env: {REDIS_URL: down}})
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /oauth-backup-20250103-000000\.jsonl\.gz\.enc .*│ yes +│ yes +│ locked/)
    assert.match(table.stderr, /oauth-backup-20250103-000000\.jsonl\.gz\.enc is encrypted: set MCPAUTH_BACKUP_PASSPHRASE to verify it/)
    assert.doesNotMatch(table.stdout, /README/)
  })

  it('says so when the directory has no backups', async () => {
    const result = await runCli(['oauth-backup-list', '--dir', join(await tempDir(), 'none'), '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), [])
  })
})
