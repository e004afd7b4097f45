import {strict as assert} from 'node:assert'

import type {Redis} from 'ioredis'

import {fillAccessTokens} from '../support/bulk-fill.js'
import {runCli, spawnCli} from '../support/cli.js'
import {startLoopbackServer} from '../support/loopback-http.js'
import {TestRedisServer, freePort} from '../support/redis-server.js'

/** Errors in mcpauth's own words: no library text, and numbers that are the ones in force. */
describe("error messages in mcpauth's words", function () {
  this.timeout(120_000)

  it('an HTTP server at the Redis address: one line saying so, exit 4, no "Protocol error" text', async () => {
    const http = await startLoopbackServer((_, response) => response.writeHead(200, {'Content-Type': 'text/html'}).end('<html></html>'))
    try {
      const result = await runCli(['oauth-stats'], {env: {REDIS_URL: http.url.replace('http:', 'redis:')}})
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /^Error: What answers at redis:\/\/127\.0\.0\.1:\d+\/0 does not speak the Redis protocol\.$/m)
      assert.doesNotMatch(result.stderr, /Protocol error|reply type byte|Please report/)
    } finally {
      await http.close()
    }
  })

  it('an OAuth server that does not resolve is described in words, not a bare ENOTFOUND', async () => {
    const result = await runCli(['doctor', '--online', '--json'], {
      env: {GATEWAY_AUTH_URL: 'https://auth.does-not-exist.invalid', REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`},
    })
    assert.doesNotMatch(result.stdout, /: ENOTFOUND\./, 'a bare code')
    assert.match(result.stdout, /the host name does not resolve \(ENOTFOUND\)|could not be resolved right now \(EAI_AGAIN\)/)
  })

  describe('Redis that stops answering mid-command', () => {
    const server = new TestRedisServer()
    before(async () => {
      await server.start()
      const redis = server.client() as Redis
      await fillAccessTokens(redis, {prefix: 'msg', count: 100_000, users: 10, clients: ['client_msg']})
      redis.disconnect()
    })
    after(async () => {
      await server.stop()
    })

    it('quotes the REDIS_COMMAND_TIMEOUT in force, once, in one Error line', async () => {
      const {child, result} = await spawnCli(['oauth-list-tokens', '--json'], {env: {REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT: '2s'}})
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve())
        child.once('exit', (code) => reject(new Error(`the listing ended (exit ${code}) before printing anything`)))
      })
      server.pause()
      const {code, stderr} = await result
      server.resume()
      assert.equal(code, 4, stderr)
      assert.deepEqual(
        stderr.split('\n').filter((line) => line.startsWith('Error:')),
        ['Error: Redis stopped answering: a command got no reply within 2s (REDIS_COMMAND_TIMEOUT).'],
      )
      assert.equal(stderr.split('\n').filter((line) => line.startsWith('Hint:')).length, 1, stderr)
    })
  })
})
