import {strict as assert} from 'node:assert'
import {readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'

import type {Redis} from 'ioredis'

import {tempDir} from '../support/backups.js'
import {
  type BulkTokens,
  bulkId,
  bulkJti,
  bulkSecret,
  countExisting,
  countIndexed,
  fillAccessTokens,
  fillCodes,
  fillRefreshTokens,
  fingerprints,
  isBulkExpired,
} from '../support/bulk-fill.js'
import {Settings} from '../../src/env/settings.js'
import {connectRedis, resolveRedisTarget} from '../../src/redis/client.js'
import {type CliResult, parseJson, runCli, spawnCli} from '../support/cli.js'
import {pythonJson} from '../support/gateway-fixtures.js'
import {TestRedisServer} from '../support/redis-server.js'

const RECORDS = 100_000
const USERS = 1000
const CLIENTS = Array.from({length: 10}, (_, index) => bulkId('client_bulk', index, 29))
/**
 * The append-only file, fsynced before each reply: a SIGKILL loses nothing
 * Redis acknowledged, so the server restarted on the same directory holds
 * exactly what the command had done when it died. Without it a restart would
 * bring back an empty Redis and "nothing lost" could not be checked.
 */
const PERSISTENT = ['--appendonly', 'yes', '--appendfsync', 'always']
/** REDIS_COMMAND_TIMEOUT for the pause tests; the default (60 s) has a test of its own. */
const PAUSE_TIMEOUT_SECONDS = 5
const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/

type Fault = 'kill' | 'pause'
const FAULTS: Record<Fault, string> = {kill: 'killed (SIGKILL)', pause: 'paused (SIGSTOP)'}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const tokenKey = (prefix: string) => (index: number) => `oauth:token:${bulkJti(prefix, index)}`

describe('Redis failing in the middle of a long command (100,000 records)', function () {
  this.timeout(240_000)
  let server: TestRedisServer
  let redis: Redis

  beforeEach(async () => {
    server = await new TestRedisServer().start(PERSISTENT)
    redis = connect()
  })
  afterEach(async () => {
    redis.disconnect()
    await server.stop()
  })

  function connect(): Redis {
    const client = server.client()
    client.on('error', () => {}) // the test's own client loses the server too
    return client
  }

  /** null: REDIS_COMMAND_TIMEOUT unset, the shipped default applies. */
  function cliEnv(timeoutSeconds: number | null = PAUSE_TIMEOUT_SECONDS): Record<string, string> {
    return {REDIS_URL: server.url, ...(timeoutSeconds === null ? {} : {REDIS_COMMAND_TIMEOUT: `${timeoutSeconds}s`})}
  }

  /** Starts the command, strikes Redis once `midway` holds, and returns how the command ended. */
  async function strikeMidway(
    args: string[],
    fault: Fault,
    midway: () => Promise<boolean>,
    timeoutSeconds: number | null = PAUSE_TIMEOUT_SECONDS,
  ): Promise<CliResult & {secondsAfterFault: number}> {
    const {result} = await spawnCli(args, {env: cliEnv(timeoutSeconds)})
    let finished = false
    void result.then(() => (finished = true))
    const deadline = Date.now() + 60_000
    while (!(await midway())) {
      if (finished) throw new Error(`${args[0]} finished before Redis could be struck: the test proves nothing`)
      if (Date.now() > deadline) throw new Error(`${args[0]} never got half-way`)
      await sleep(2)
    }
    const struckAt = Date.now()
    if (fault === 'kill') await server.kill('SIGKILL')
    else server.pause()
    const ended = await result
    return {...ended, secondsAfterFault: (Date.now() - struckAt) / 1000}
  }

  /** Restarted on its append-only file after a kill; resumed after a pause, once the dead command's connection is gone. */
  async function bringBack(fault: Fault): Promise<void> {
    if (fault === 'kill') {
      redis.disconnect()
      await server.start(PERSISTENT)
      redis = connect()
      return
    }
    server.resume()
    // What the command sent before it gave up is still applied: wait for it, so the counts below are final.
    while (
      String(await redis.client('LIST'))
        .trim()
        .split('\n').length > 1
    )
      await sleep(20)
  }

  function assertFailedInOneLine(result: CliResult & {secondsAfterFault: number}, fault: Fault, timeoutSeconds = PAUSE_TIMEOUT_SECONDS): void {
    assert.equal(result.code, 4, `exit ${result.code}:\n${result.stderr}`)
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('Error: '))
    assert.equal(errors.length, 1, result.stderr)
    assert.match(errors[0], fault === 'kill' ? /^Error: Lost the connection to Redis/ : /^Error: Redis stopped answering/)
    assert.doesNotMatch(result.stderr, STACK_TRACE)
    if (fault === 'pause') {
      // Generous for a busy machine, yet short of two timeouts: a close that waited for the paused server would show.
      assert.ok(result.secondsAfterFault < timeoutSeconds + 4.5, `exit ${result.secondsAfterFault}s after the pause; timeout ${timeoutSeconds}s`)
    }
  }

  async function indexEntries(): Promise<number> {
    const pipeline = redis.pipeline()
    for (let user = 0; user < USERS; user++) pipeline.scard(`oauth:user_tokens:user${user}`)
    return ((await pipeline.exec()) ?? []).reduce((sum, [, size]) => sum + Number(size), 0)
  }

  for (const fault of ['kill', 'pause'] as const) {
    describe(`when Redis is ${FAULTS[fault]}`, () => {
      it('oauth-purge-expired exits 4 in one line; no valid token is lost, and a second run removes the rest', async () => {
        const tokens: BulkTokens = {prefix: 'p', count: RECORDS, users: USERS, clients: CLIENTS, expiredEvery: 2}
        const expired = (index: number) => isBulkExpired(index, 2)
        const valid = (index: number) => !expired(index)
        await fillAccessTokens(redis, tokens)
        const keysBefore = await redis.dbsize()

        const result = await strikeMidway(['oauth-purge-expired', '--yes'], fault, async () => (await redis.dbsize()) < keysBefore - 2000)
        assertFailedInOneLine(result, fault)
        await bringBack(fault)

        const expiredLeft = await countExisting(redis, RECORDS, tokenKey('p'), expired)
        assert.ok(expiredLeft > 0 && expiredLeft < RECORDS / 2, `struck half-way: ${expiredLeft} of ${RECORDS / 2} expired tokens left`)
        assert.equal(await countExisting(redis, RECORDS, tokenKey('p'), valid), RECORDS / 2, 'every valid token is there')
        assert.equal(await countIndexed(redis, tokens, valid), RECORDS / 2, 'every valid token is in its user index')

        const again = await runCli(['oauth-purge-expired', '--yes', '--json'], {env: cliEnv()})
        assert.equal(again.code, 0, again.stderr)
        assert.equal(parseJson(again).deleted.access_tokens, expiredLeft)
        assert.equal(await countExisting(redis, RECORDS, tokenKey('p'), expired), 0, 'no expired token is left')
        assert.equal(await countExisting(redis, RECORDS, tokenKey('p'), valid), RECORDS / 2)
        assert.equal(await indexEntries(), RECORDS / 2, 'the user indexes list the valid tokens and nothing else')
      })

      it('oauth-delete-client-complete exits 4 in one line; other clients keep everything, and a second run finishes the job', async () => {
        const [target] = CLIENTS
        const ofTarget = (index: number) => index % CLIENTS.length === 0
        const ofOthers = (index: number) => !ofTarget(index)
        const tokens: BulkTokens = {prefix: 'd', count: RECORDS, users: USERS, clients: CLIENTS}
        await fillAccessTokens(redis, tokens)
        await fillRefreshTokens(redis, {prefix: 'r', count: 10_000, users: USERS, clients: CLIENTS})
        await fillCodes(redis, {prefix: 'c', count: 2000, users: USERS, clients: CLIENTS})
        for (const clientId of CLIENTS)
          await redis.set(`oauth:client:${clientId}`, pythonJson({client_id: clientId, client_name: clientId, client_secret_expires_at: 0}), 'EX', 7_776_000)
        const recordsOf = async (where: (index: number) => boolean) =>
          (await countExisting(redis, RECORDS, tokenKey('d'), where)) +
          (await countExisting(redis, 10_000, (index) => `oauth:refresh:${bulkSecret('r', index)}`, where)) +
          (await countExisting(redis, 2000, (index) => `oauth:code:${bulkSecret('c', index)}`, where))
        const targetRecords = 10_000 + 1000 + 200
        const keysBefore = await redis.dbsize()

        const result = await strikeMidway(['oauth-delete-client-complete', '--yes', '--', target], fault, async () => (await redis.dbsize()) < keysBefore - 500)
        assertFailedInOneLine(result, fault)
        await bringBack(fault)

        const targetLeft = await recordsOf(ofTarget)
        assert.ok(targetLeft > 0 && targetLeft < targetRecords, `struck half-way: ${targetLeft} of ${targetRecords} records of the client left`)
        assert.equal(await recordsOf(ofOthers), 90_000 + 9000 + 1800, 'other clients keep every record')
        assert.equal(await countIndexed(redis, tokens, ofOthers), 90_000, 'and every index entry')

        const again = await runCli(['oauth-delete-client-complete', '--yes', '--json', '--', target], {env: cliEnv()})
        assert.equal(again.code, 0, again.stderr)
        const body = parseJson(again)
        assert.equal(body.access_tokens + body.refresh_tokens + body.codes, targetLeft)
        assert.equal(body.registration_deleted, true)
        assert.equal(await recordsOf(ofTarget), 0, 'nothing of the client is left')
        assert.equal(await countIndexed(redis, tokens, ofTarget), 0, 'nor in the user indexes')
        assert.equal(await recordsOf(ofOthers), 90_000 + 9000 + 1800)
        assert.equal(await countIndexed(redis, tokens, ofOthers), 90_000)
        assert.equal(await countExisting(redis, CLIENTS.length, (index) => `oauth:client:${CLIENTS[index]}`), CLIENTS.length - 1)
      })

      it('oauth-backup exits 4 in one line and leaves no file at all; a second run writes a complete backup', async () => {
        await fillAccessTokens(redis, {prefix: 'b', count: RECORDS, users: USERS, clients: CLIENTS})
        const dir = await tempDir()
        const written = async () => {
          const names = await readdir(dir)
          return names.length > 0 && (await stat(join(dir, names[0])).catch(() => ({size: 0}))).size > 2 * 1024 * 1024
        }

        const result = await strikeMidway(['oauth-backup', '--dir', dir], fault, written)
        assertFailedInOneLine(result, fault)
        assert.deepEqual(await readdir(dir), [], 'neither a partial backup nor its temporary file is left')
        await bringBack(fault)

        const keys = await redis.dbsize()
        const again = await runCli(['oauth-backup', '--dir', dir, '--json'], {env: cliEnv()})
        assert.equal(again.code, 0, again.stderr)
        assert.equal(parseJson(again).records, keys)
        const listed = await runCli(['oauth-backup-list', '--dir', dir, '--json'])
        assert.deepEqual(
          parseJson<any[]>(listed).map(({status, records}) => ({status, records})),
          [{status: 'complete', records: keys}],
        )
      })

      it('oauth-restore exits 4 in one line leaving only complete keys; a second run restores the rest', async () => {
        await fillAccessTokens(redis, {prefix: 's', count: RECORDS, users: USERS, clients: CLIENTS})
        const original = await fingerprints(redis)
        const file = join(await tempDir(), 'before-the-fault.jsonl')
        const backup = await runCli(['oauth-backup', '--output', file], {env: cliEnv()})
        assert.equal(backup.code, 0, backup.stderr)
        await redis.flushdb()

        const result = await strikeMidway(['oauth-restore', file], fault, async () => (await redis.dbsize()) > 5000)
        assertFailedInOneLine(result, fault)
        await bringBack(fault)

        const partial = await fingerprints(redis)
        assert.ok(partial.size > 0 && partial.size < original.size, `struck half-way: ${partial.size} of ${original.size} keys restored`)
        for (const [key, restored] of partial) assert.equal(restored, original.get(key), `${key} is restored whole or not at all`)

        const again = await runCli(['oauth-restore', file, '--json'], {env: cliEnv()})
        assert.equal(again.code, 0, again.stderr)
        const body = parseJson(again)
        assert.deepEqual([body.written, body.kept], [original.size - partial.size, partial.size])
        assert.deepEqual(await fingerprints(redis), original)
      })
    })
  }

  it('a command started against a paused Redis exits 4 after the timeout, saying the server does not answer', async () => {
    server.pause()
    const startedAt = Date.now()
    const result = await runCli(['oauth-stats'], {env: cliEnv()})
    const seconds = (Date.now() - startedAt) / 1000
    assert.equal(result.code, 4, result.stderr)
    assert.match(
      result.stderr,
      /^Error: Redis at redis:\/\/127\.0\.0\.1:\d+\/0 accepted the connection but did not answer within 5s\.\nHint: .*REDIS_COMMAND_TIMEOUT/,
    )
    assert.ok(seconds < PAUSE_TIMEOUT_SECONDS + 4.5, `exit after ${seconds}s`)
  })

  // The pause tests above set 5 s to stay quick; end to end with the default a purge exits 4 about 61 s after the pause.
  it('waits 60 s for a reply unless REDIS_COMMAND_TIMEOUT says otherwise, and refuses a timeout it cannot read', async () => {
    const timeoutOf = async (env: Record<string, string>) => {
      const client = (await connectRedis(resolveRedisTarget(new Settings('.env', false, new Map(), {REDIS_URL: server.url, ...env})))) as Redis
      try {
        return client.options.commandTimeout
      } finally {
        client.disconnect()
      }
    }
    assert.equal(await timeoutOf({}), 60_000)
    assert.equal(await timeoutOf({REDIS_COMMAND_TIMEOUT: '2m'}), 120_000)
    assert.equal(await timeoutOf({REDIS_COMMAND_TIMEOUT: '5'}), 5000)
    const unreadable = await runCli(['oauth-stats'], {env: {...cliEnv(), REDIS_COMMAND_TIMEOUT: 'soon'}})
    assert.equal(unreadable.code, 2)
    assert.match(unreadable.stderr, /^Error: REDIS_COMMAND_TIMEOUT must be a duration such as 3600, 90m, 2h or 1d, not "soon"\./)
  })
})
