import {strict as assert} from 'node:assert'
import {appendFile, chmod, copyFile, mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText, updateEnvFile} from '../src/env/env-file.js'
import {decodePrivateKeyB64, generateRsaKey, publicJwk} from '../src/jwt/keys.js'
import {type CliResult, parseJson, repoRoot, runCli} from './support/cli.js'
import {type LoopbackServer, sendJson, startLoopbackServer} from './support/loopback-http.js'
import {TestRedisServer, freePort} from './support/redis-server.js'

const REDIS_PASSWORD = 'doctor-test-redis-password-0123456789abcdef'

describe('doctor', () => {
  const redis = new TestRedisServer(REDIS_PASSWORD)
  let dir = ''

  before(async () => {
    await redis.start()
  })
  after(async () => {
    await redis.stop()
  })

  /** A gateway directory as a new operator ends up with it: secrets generated, GitHub app filled in, a minted token. */
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcpauth-doctor-'))
    await copyFile(join(repoRoot, '.env.example'), join(dir, '.env.example'))
    assert.equal((await runCli(['generate-all-secrets'], {cwd: dir})).code, 0)
    await setEnv({
      GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef',
      GITHUB_CLIENT_SECRET: '0123456789abcdef0123456789abcdef01234567',
      REDIS_URL: redis.url,
      REDIS_PASSWORD,
      ALLOWED_GITHUB_USERS: 'alice,bob',
    })
    const minted = await runCli(['mcp-client-token', '--mint', '--username', 'alice'], {cwd: dir})
    assert.equal(minted.code, 0, minted.stderr)
  })

  async function setEnv(updates: Record<string, string | null>): Promise<void> {
    await updateEnvFile(join(dir, '.env'), () => updates)
  }

  async function doctor(...args: string[]): Promise<{result: CliResult; byCheck: Record<string, {status: string; detail: string; hint: string | null}>}> {
    const result = await runCli(['doctor', '--json', ...args], {cwd: dir})
    const report = parseJson(result)
    assert.equal(report.exit_code, result.code, 'the exit code in the report is the process exit code')
    return {result, byCheck: Object.fromEntries(report.checks.map((check: any) => [check.check, check]))}
  }

  it('reports a healthy set-up with exit 0 and one line per check', async () => {
    const text = await runCli(['doctor'], {cwd: dir})
    assert.equal(text.code, 0, text.stdout + text.stderr)
    assert.match(text.stdout, /^ok {4}\.env file +\.env \(mode 0600\)$/m)
    assert.match(text.stdout, /^ok {4}signing key +RS256, 2048-bit RSA key$/m)
    assert.match(text.stdout, /^ok {4}MCP_CLIENT_ACCESS_TOKEN +expires in 23h 59m$/m)
    assert.match(text.stdout, /0 failed: healthy\.$/m)
  })

  it('fails a placeholder with exit 3 and says how to fix it', async () => {
    await setEnv({GITHUB_CLIENT_SECRET: 'your_github_client_secret'})
    const {result, byCheck} = await doctor()
    assert.equal(result.code, 3)
    assert.deepEqual(byCheck.GITHUB_CLIENT_SECRET, {
      check: 'GITHUB_CLIENT_SECRET',
      status: 'fail',
      detail: 'GITHUB_CLIENT_SECRET is a placeholder',
      hint: 'Replace it in .env.',
    })
  })

  it('understands the OAUTH_ names and reports a conflict between old and new', async () => {
    const secret = parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values.get('GATEWAY_JWT_SECRET')!
    await setEnv({GATEWAY_JWT_SECRET: null, OAUTH_JWT_SECRET: secret})
    assert.equal((await doctor()).byCheck.GATEWAY_JWT_SECRET.detail, 'set as OAUTH_JWT_SECRET')
    await setEnv({GATEWAY_JWT_SECRET: `${secret}-different`})
    const {result, byCheck} = await doctor()
    assert.equal(result.code, 3)
    assert.equal(byCheck['GATEWAY_JWT_SECRET / OAUTH_JWT_SECRET'].status, 'fail')
  })

  it('fails an RSA key under 2048 bits', async () => {
    const {privateKey} = await import('node:crypto').then(({generateKeyPairSync}) => generateKeyPairSync('rsa', {modulusLength: 1024}))
    await setEnv({JWT_PRIVATE_KEY_B64: Buffer.from(privateKey.export({type: 'pkcs8', format: 'pem'}) as string).toString('base64')})
    const {result, byCheck} = await doctor()
    assert.equal(result.code, 3)
    assert.match(byCheck['signing key'].detail, /RSA key has 1024 bits, at least 2048 are required/)
  })

  it('warns about a .env others can read', async () => {
    await chmod(join(dir, '.env'), 0o644)
    const {result, byCheck} = await doctor()
    assert.equal(result.code, 0)
    assert.equal(byCheck['.env file'].status, 'warn')
    assert.equal(byCheck['.env file'].hint, 'chmod 600 .env')
  })

  it('shows every finding about the .env: an unparseable line and a mode others can read', async () => {
    await appendFile(join(dir, '.env'), 'this line is not a setting\n')
    await chmod(join(dir, '.env'), 0o644)
    const result = await runCli(['doctor', '--json'], {cwd: dir})
    const findings = parseJson(result).checks.filter((check: {check: string}) => check.check === '.env file')
    assert.deepEqual(
      findings.map((check: {status: string; hint: string}) => [check.status, check.hint]),
      [
        ['warn', 'Each line must be NAME=value, a comment or blank.'],
        ['warn', 'chmod 600 .env'],
      ],
    )
  })

  it('fails with exit 4 when Redis cannot be reached, and explains a compose host name', async () => {
    await setEnv({REDIS_URL: 'redis://redis:6379/0'})
    const {result, byCheck} = await doctor()
    assert.equal(result.code, 4)
    assert.match(byCheck.redis.detail, /Cannot resolve Redis host "redis"/)
    assert.match(byCheck.redis.hint!, /compose network/)
  })

  it('fails a token whose record is gone from Redis, and warns about one about to expire', async () => {
    const client = redis.client()
    await client.flushdb()
    client.disconnect()
    const revoked = await doctor()
    assert.equal(revoked.result.code, 3)
    assert.match(revoked.byCheck.MCP_CLIENT_ACCESS_TOKEN.detail, /^invalid: .*(revoked|record)/i)

    assert.equal((await runCli(['mcp-client-token', '--mint', '--username', 'alice', '--ttl', '600'], {cwd: dir})).code, 0)
    const expiring = await doctor()
    assert.equal(expiring.result.code, 0)
    assert.equal(expiring.byCheck.MCP_CLIENT_ACCESS_TOKEN.status, 'warn')
  })

  it('exits 4 when there is no .env', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'mcpauth-doctor-empty-'))
    const result = await runCli(['doctor', '--json'], {cwd: empty, env: {REDIS_URL: redis.url, REDIS_PASSWORD}})
    assert.equal(result.code, 4)
    assert.equal(parseJson(result).checks[0].hint, 'Run "mcpauth generate-all-secrets" to create it from .env.example.')
  })

  describe('--online', () => {
    let gateway: LoopbackServer | undefined
    afterEach(async () => {
      await gateway?.close()
    })

    async function serveGateway(jwks: unknown): Promise<void> {
      gateway = await startLoopbackServer((request, response) => {
        if (request.url === '/.well-known/oauth-authorization-server')
          return sendJson(response, 200, {issuer: gateway!.url, token_endpoint: `${gateway!.url}/token`, jwks_uri: `${gateway!.url}/jwks`})
        if (request.url === '/jwks') return sendJson(response, 200, jwks)
        sendJson(response, 404, {detail: 'Not Found'})
      })
      await setEnv({GATEWAY_AUTH_URL: gateway.url})
      // The issuer follows GATEWAY_AUTH_URL: mint again so the token matches this gateway.
      assert.equal((await runCli(['mcp-client-token', '--mint', '--username', 'alice'], {cwd: dir})).code, 0)
    }

    it("passes when the gateway's /jwks serves the key in .env", async () => {
      const local = decodePrivateKeyB64(parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values.get('JWT_PRIVATE_KEY_B64'))
      assert.ok(local.ok)
      await serveGateway({keys: [{...publicJwk(local.key), kid: 'gateway-key'}]})
      const {result, byCheck} = await doctor('--online')
      assert.equal(result.code, 0, JSON.stringify(byCheck))
      assert.equal(byCheck['gateway /jwks'].detail, 'serves the key in .env')
    })

    it('fails when the gateway signs with another key', async () => {
      await serveGateway({keys: [publicJwk((await generateRsaKey(2048)).privateKey)]})
      const {result, byCheck} = await doctor('--online')
      assert.equal(result.code, 3)
      assert.equal(byCheck['gateway /jwks'].status, 'fail')
    })

    it('fails with exit 4 when the gateway does not answer', async () => {
      await setEnv({GATEWAY_AUTH_URL: `http://127.0.0.1:${await freePort()}`})
      const {result, byCheck} = await doctor('--online')
      assert.equal(result.code, 4)
      assert.equal(byCheck['gateway metadata'].status, 'fail')
    })
  })
})
