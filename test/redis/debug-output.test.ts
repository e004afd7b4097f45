import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Redis} from 'ioredis'

import {parseEnvText} from '../../src/env/env-file.js'
import {runCli} from '../support/cli.js'
import {GatewayFixtures} from '../support/gateway-fixtures.js'
import {TestRedisServer} from '../support/redis-server.js'

const PASSWORD = 'debug-redis-password-8c1f0e'
const JWT_SECRET = 'debug-gateway-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'
// biome-ignore lint/suspicious/noControlCharactersInRegex: a raw control character on stderr is the failure
const RAW_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/

describe('DEBUG=* and DEBUG=ioredis:* print no secret', function () {
  this.timeout(120_000)
  const server = new TestRedisServer(PASSWORD)
  let redis: Redis

  before(async () => {
    await server.start()
    redis = server.client()
  })
  after(async () => {
    redis.disconnect()
    await server.stop()
  })

  for (const debug of ['*', 'ioredis:*']) {
    it(`DEBUG=${debug}: neither the Redis password nor a client secret, refresh token or minted token reaches stderr`, async () => {
      await redis.flushall()
      const fixtures = new GatewayFixtures(redis)
      const {clientId, record} = await fixtures.client({name: 'Debugged \u001b[31mclient'})
      const refresh = await fixtures.refreshToken({username: 'alice', clientId})
      await fixtures.accessToken({username: 'alice', clientId})
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-debug-'))
      await writeFile(join(dir, '.env'), `BASE_DOMAIN=example.com\nJWT_ALGORITHM=HS256\nGATEWAY_JWT_SECRET=${JWT_SECRET}\n`, {mode: 0o600})
      const env = {DEBUG: debug, REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${server.port}/0`}

      const runs = []
      for (const args of [
        ['oauth-list-registrations'],
        ['oauth-list-tokens', '--json'],
        ['oauth-backup', '--output', join(dir, 'backup.jsonl')],
        ['mcp-client-token', '--mint', '--username', 'alice'],
        ['oauth-delete-client-complete', clientId, '--yes'],
      ]) {
        const result = await runCli(args, {cwd: dir, env})
        assert.equal(result.code, 0, `${args[0]}: ${result.stderr.slice(-2000)}`)
        runs.push(result)
      }
      const minted = parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values.get('MCP_CLIENT_ACCESS_TOKEN')!
      assert.ok(minted?.startsWith('eyJ'), 'a token was minted')
      const stderr = runs.map((run) => run.stderr).join('\n')
      assert.match(stderr, /ioredis:redis write command\[[^\]]+\]: 0 -> auth\(/, 'debugging was on: ioredis logged its commands')
      for (const [what, secret] of Object.entries({
        'the Redis password': PASSWORD,
        'the client secret': record.client_secret,
        'the registration access token': record.registration_access_token,
        'the refresh token': refresh.token,
        'the minted token': minted,
        'the minted token signature': minted.split('.')[2],
        'the gateway JWT secret': JWT_SECRET,
      })) {
        assert.ok(!stderr.includes(secret), `${what} was printed`)
      }
      assert.doesNotMatch(stderr, RAW_CONTROL, 'a raw control character reached the terminal')
    })
  }
})

describe("ioredis's own warnings", () => {
  const server = new TestRedisServer()
  before(async () => {
    await server.start()
  })
  after(async () => server.stop())

  it('a password a server does not need: one escaped warning in mcpauth words, not ioredis\'s "[WARN]" line', async () => {
    const result = await runCli(['oauth-list-tokens'], {env: {REDIS_URL: server.url, REDIS_PASSWORD: 'not-needed-password'}})
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /\[WARN\]/)
    assert.match(result.stderr, /^Warning: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 asks for no password, but one was given/m)
    assert.equal(result.stderr.match(/Warning: Redis/g)?.length, 1)
    assert.ok(!result.stderr.includes('not-needed-password'))
  })
})
