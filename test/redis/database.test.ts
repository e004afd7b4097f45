import {strict as assert} from 'node:assert'

import type {Redis} from 'ioredis'

import {runCli} from '../support/cli.js'
import {TestRedisServer} from '../support/redis-server.js'

const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/

/** stderr is one `Error:` line and at most one `Hint:` line. */
function assertOneLineError(stderr: string): void {
  const lines = stderr.trim().split('\n')
  assert.match(lines[0], /^Error: /, stderr)
  assert.ok(lines.length <= 2 && (lines.length === 1 || lines[1].startsWith('Hint: ')), stderr)
  assert.doesNotMatch(stderr, STACK_TRACE)
}

describe('the Redis database number', () => {
  // A server with the default 16 databases (0-15).
  const server = new TestRedisServer()
  let db0: Redis
  let db3: Redis
  const base = () => `redis://127.0.0.1:${server.port}`

  before(async () => {
    await server.start()
    db0 = server.client()
    db3 = server.client()
    await db3.select(3)
  })
  beforeEach(async () => {
    await db0.flushall()
    await db0.set('oauth:token:canary', JSON.stringify({username: 'canary', client_id: 'c', expires_at: 4_000_000_000}))
  })
  after(async () => {
    db0.disconnect()
    db3.disconnect()
    await server.stop()
  })

  it('a database the server does not have (URL path /42) ends a delete with exit 4 before it touches database 0', async () => {
    const result = await runCli(['oauth-delete-token', 'canary', '--yes', '--redis-url', `${base()}/42`])
    assert.equal(result.code, 4, result.stdout + result.stderr)
    assertOneLineError(result.stderr)
    assert.match(result.stderr, /database 42.*out of range/i)
    assert.equal(await db0.exists('oauth:token:canary'), 1, 'the record in database 0 is untouched')
  })

  it('--redis-db 99 (and REDIS_DB=16) end a list and a purge with exit 4 and nothing read or written', async () => {
    for (const [args, env] of [
      [['oauth-list-tokens', '--json', '--redis-url', base(), '--redis-db', '99'], {}],
      [['oauth-purge-expired', '--yes'], {REDIS_HOST: '127.0.0.1', REDIS_PORT: String(server.port), REDIS_DB: '16'}],
    ] as Array<[string[], Record<string, string>]>) {
      const result = await runCli(args, {env})
      assert.equal(result.code, 4, `${args[0]}: ${result.stdout}${result.stderr}`)
      assert.match(result.stderr, /database (99|16)/)
      if (args.includes('--json')) assert.equal(JSON.parse(result.stdout).error.exit_code, 4)
      else assertOneLineError(result.stderr)
    }
    assert.equal(await db0.exists('oauth:token:canary'), 1)
  })

  it('a database the server has is the one used: a delete in database 3 leaves database 0 alone', async () => {
    await db3.set('oauth:token:canary', JSON.stringify({username: 'three', client_id: 'c', expires_at: 4_000_000_000}))
    const result = await runCli(['oauth-delete-token', 'canary', '--yes', '--redis-url', `${base()}/3`])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(await db3.exists('oauth:token:canary'), 0)
    assert.equal(await db0.exists('oauth:token:canary'), 1)
  })

  it('a cluster (database 0 only) refuses any other number before it connects', async () => {
    // Nothing listens on port 1: the refusal must come before any connection is tried.
    const result = await runCli(['oauth-list-tokens', '--redis-db', '2'], {env: {REDIS_CLUSTER_NODES: '127.0.0.1:1'}})
    assert.equal(result.code, 2, result.stderr)
    assertOneLineError(result.stderr)
    assert.match(result.stderr, /only database 0/)
  })
})
