import {strict as assert} from 'node:assert'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseJson, runCli, spawnCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {TestRedisServer, freePort} from '../support/redis-server.js'

describe('every command', () => {
  const ctx = useRedis()

  it('lists all Redis admin commands in --help', async () => {
    const result = await runCli(['--help'])
    assert.equal(result.code, 0)
    for (const id of [
      'oauth-list-tokens',
      'oauth-list-registrations',
      'oauth-stats',
      'oauth-delete-token',
      'oauth-delete-registration',
      'oauth-delete-client-complete',
      'oauth-revoke-user',
      'oauth-purge-expired',
    ]) {
      assert.match(result.stdout, new RegExp(`\\b${id}\\b`))
    }
  })

  it('exits 2 on an unknown flag', async () => {
    const result = await runCli(['oauth-stats', '--no-such-flag'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /Nonexistent flag/)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('reads REDIS_URL from the .env file in the working directory', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-env-'))
    await writeFile(join(cwd, '.env'), `# gateway settings\nexport REDIS_URL="${ctx.server.url}"\n`)
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await runCli(['oauth-list-tokens', '--json'], {cwd})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson<any[]>(result).length, 1)
  })

  it('lets the environment win over .env, and --redis-url win over both', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-env-'))
    const deadPort = await freePort()
    await writeFile(join(cwd, 'gateway.env'), `REDIS_URL=redis://127.0.0.1:${deadPort}/0\n`)
    const fromEnvironment = await runCli(['oauth-stats', '--json', '--env-file', 'gateway.env'], {cwd, env: {REDIS_URL: ctx.server.url}})
    assert.equal(fromEnvironment.code, 0, fromEnvironment.stderr)
    const fromFlag = await runCli(['oauth-stats', '--json', '--env-file', 'gateway.env', '--redis-url', ctx.server.url], {
      cwd,
      env: {REDIS_URL: `redis://127.0.0.1:${deadPort}/0`},
    })
    assert.equal(fromFlag.code, 0, fromFlag.stderr)
  })

  it('exits 4 when a named --env-file does not exist', async () => {
    const result = await ctx.cli(['oauth-stats', '--env-file', '/nonexistent/.env'])
    assert.equal(result.code, 4)
    assert.match(result.stderr, /Cannot read \/nonexistent\/.env/)
  })
})

describe('Redis connection failures', () => {
  it('exits 4 with one clear line when nothing listens', async () => {
    const port = await freePort()
    const result = await runCli(['oauth-list-tokens'], {env: {REDIS_URL: `redis://127.0.0.1:${port}/0`}})
    assert.equal(result.code, 4)
    assert.match(result.stderr, new RegExp(`Cannot connect to Redis at redis://127.0.0.1:${port}/0: connection refused`))
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('reports the error as JSON on stdout under --json, keeping exit 4', async () => {
    const port = await freePort()
    const result = await runCli(['oauth-stats', '--json'], {env: {REDIS_URL: `redis://127.0.0.1:${port}/0`}})
    assert.equal(result.code, 4)
    const body = parseJson(result)
    assert.equal(body.error.code, 'unreachable')
    assert.equal(body.error.exit_code, 4)
  })

  it('explains that a compose host name like "redis" does not resolve from the shell', async () => {
    const result = await runCli(['oauth-stats'], {env: {REDIS_URL: 'redis://redis:6379/0'}})
    assert.equal(result.code, 4)
    assert.match(result.stderr, /Cannot resolve Redis host "redis"/)
    assert.match(result.stderr, /compose network/)
  })

  describe('with a password', () => {
    const password = 'correct-horse-battery-staple'
    const server = new TestRedisServer(password)
    before(async () => {
      await server.start()
    })
    after(async () => {
      await server.stop()
    })

    it('uses REDIS_PASSWORD and never prints it', async () => {
      const ok = await runCli(['oauth-stats', '--json'], {env: {REDIS_URL: server.url, REDIS_PASSWORD: password}})
      assert.equal(ok.code, 0, ok.stderr)
      const wrong = await runCli(['oauth-stats'], {env: {REDIS_URL: `redis://:${`not-${password}`}@127.0.0.1:${server.port}/0`}})
      assert.equal(wrong.code, 4)
      assert.match(wrong.stderr, /refused the credentials/)
      assert.match(wrong.stderr, /redis:\/\/:\*\*\*@127\.0\.0\.1/)
      assert.ok(!wrong.stderr.includes(password))
    })
  })

  describe('when Redis dies in the middle of a command', () => {
    const server = new TestRedisServer()
    before(async () => {
      await server.start()
      const redis = server.client()
      const pipeline = redis.pipeline()
      for (let i = 0; i < 200_000; i++) pipeline.set(`oauth:token:bulk${i}`, '{"username":"u","client_id":"c","expires_at":1}', 'EX', 3600)
      await pipeline.exec()
      redis.disconnect()
    })
    after(async () => {
      await server.stop()
    })

    it('exits 4 with one line and no stack trace', async () => {
      const {child, result: listing} = await spawnCli(['oauth-list-tokens', '--json'], {env: {REDIS_URL: server.url}})
      // Strike on evidence, not on a clock: the first rows are out, so it is connected and mid-listing.
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve())
        child.once('exit', (code) => reject(new Error(`the listing ended (exit ${code}) before printing anything`)))
      })
      await server.kill('SIGKILL')
      const result = await listing
      assert.ok(!result.stdout.endsWith(']\n'), 'the listing finished before Redis was killed')
      assert.equal(result.code, 4, result.stderr)
      assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('Error:')).length, 1, result.stderr)
      assert.doesNotMatch(result.stderr, /\n\s+at /)
    })
  })
})
