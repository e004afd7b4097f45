import {strict as assert} from 'node:assert'
import {createHmac} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readFile, symlink} from 'node:fs/promises'
import {join} from 'node:path'

import {Settings} from '../../src/env/settings.js'
import {gatewaySigningKey} from '../../src/jwt/gateway-keys.js'
import {gatewayJson, mintAccessToken, parseCustomClaims} from '../../src/jwt/mint.js'
import {type CliResult, parseJson, runCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {HS256_SECRET, ISSUER, decodeSegment, envDir, hs256Settings, opensslVerifiesRs256, rs256Settings, rsaKeyPair} from '../support/jwt-fixtures.js'
import {pythonJson} from '../support/gateway-fixtures.js'
import {freePort} from '../support/redis-server.js'

const keys = rsaKeyPair()
const TOKEN_LINE = /^MCP_CLIENT_ACCESS_TOKEN=(.+)$/m

async function savedToken(cwd: string): Promise<string> {
  const match = TOKEN_LINE.exec(await readFile(join(cwd, '.env'), 'utf8'))
  assert.ok(match, 'MCP_CLIENT_ACCESS_TOKEN was not saved')
  return match[1]
}

function assertNoLeak(result: CliResult, ...secrets: string[]): void {
  for (const secret of secrets) {
    assert.ok(!result.stderr.includes(secret), 'a secret leaked on stderr')
    assert.ok(!result.stdout.includes(secret), 'a secret leaked on stdout')
  }
}

describe('mcp-client-token', () => {
  const ctx = useRedis()
  const mint = (cwd: string, args: string[], env?: Record<string, string>) => ctx.cli(['mcp-client-token', '--mint', ...args], {cwd, env})

  it('without --mint and with no server to sign in to, says which setting names one (exit 2)', async () => {
    const result = await ctx.cli(['mcp-client-token'], {cwd: await envDir(['JWT_ALGORITHM=RS256'])})
    assert.equal(result.code, 2)
    assert.match(result.stderr, /neither GATEWAY_AUTH_URL nor BASE_DOMAIN is set\.\nHint: Set BASE_DOMAIN/)
    const noUser = await ctx.cli(['mcp-client-token', '--mint'], {cwd: await envDir(rs256Settings(keys))})
    assert.equal(noUser.code, 2)
    assert.match(noUser.stderr, /--mint needs --username/)
  })

  it('mints a token the gateway would issue, saves it in .env keeping every other line, and never prints it', async () => {
    const original = ['# gateway settings', ...rs256Settings(keys), '', "REDIS_PASSWORD='kept as is' # comment", 'ACCESS_TOKEN_LIFETIME=600']
    const cwd = await envDir(original)
    const result = await mint(cwd, ['--username', 'ci-bot', '--sub', '98765', '--email', 'ci@example.com', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const token = await savedToken(cwd)
    const report = parseJson(result)
    assert.deepEqual(Object.keys(report), ['jti', 'username', 'sub', 'client_id', 'scope', 'audience', 'gateway_version', 'expires_at', 'saved_to', 'env_key'])
    assert.equal(report.username, 'ci-bot')
    assert.equal(report.saved_to, '.env')
    assert.equal(await readFile(join(cwd, '.env'), 'utf8'), [...original, `MCP_CLIENT_ACCESS_TOKEN=${token}`, ''].join('\n'))
    assertNoLeak(result, token, keys.privateKeyB64)

    assert.equal(await opensslVerifiesRs256(token, keys.publicKeyPem), true)
    assert.deepEqual(decodeSegment(token, 0), {alg: 'RS256', typ: 'JWT'})
    const claims = decodeSegment(token, 1) as Record<string, any>
    assert.deepEqual(Object.keys(claims), ['sub', 'username', 'email', 'name', 'scope', 'client_id', 'jti', 'iat', 'exp', 'iss', 'aud'])
    assert.deepEqual(
      {...claims, iat: 0, exp: 0},
      {
        sub: '98765',
        username: 'ci-bot',
        email: 'ci@example.com',
        name: null,
        scope: 'openid profile email',
        client_id: 'mcpauth-mint',
        jti: report.jti,
        iat: 0,
        exp: 0,
        iss: ISSUER,
        aud: ISSUER,
      },
    )
    assert.equal(claims.exp - claims.iat, 600)
    assert.match(claims.jti, /^[A-Za-z0-9_-]{22}$/)

    const record = {
      sub: '98765',
      username: 'ci-bot',
      email: 'ci@example.com',
      name: null,
      scope: 'openid profile email',
      client_id: 'mcpauth-mint',
      created_at: claims.iat,
      expires_at: claims.exp,
    }
    assert.equal(await ctx.redis.get(`oauth:token:${claims.jti}`), pythonJson(record))
    const ttl = await ctx.redis.ttl(`oauth:token:${claims.jti}`)
    assert.ok(ttl > 590 && ttl <= 600, String(ttl))
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:ci-bot'), [claims.jti])
  })

  it('mints a token that validate-tokens accepts and oauth-list-tokens shows', async () => {
    const cwd = await envDir(rs256Settings(keys))
    const minted = await mint(cwd, ['--username', 'alice', '--client-id', 'client_ci', '--json'])
    assert.equal(minted.code, 0, minted.stderr)
    const validated = await ctx.cli(['validate-tokens', '--json'], {cwd})
    assert.equal(validated.code, 0, validated.stdout + validated.stderr)
    assert.deepEqual(
      parseJson(validated).tokens.map((t: any) => [t.name, t.valid, t.username]),
      [['MCP_CLIENT_ACCESS_TOKEN', true, 'alice']],
    )
    const listed = await ctx.cli(['oauth-list-tokens', '--json'], {cwd})
    const rows = parseJson<any[]>(listed)
    assert.deepEqual(
      rows.map((row) => [row.jti, row.username, row.client_id, row.problem]),
      [[parseJson(minted).jti, 'alice', 'client_ci', null]],
    )
  })

  it('--print writes the token on stdout and changes nothing in .env', async () => {
    const cwd = await envDir(rs256Settings(keys))
    const before = await readFile(join(cwd, '.env'), 'utf8')
    const result = await mint(cwd, ['--username', 'alice', '--ttl', '90m', '--print'])
    assert.equal(result.code, 0, result.stderr)
    const token = result.stdout.trim()
    assert.equal(await readFile(join(cwd, '.env'), 'utf8'), before)
    assert.equal(await opensslVerifiesRs256(token, keys.publicKeyPem), true)
    const claims = decodeSegment(token, 1) as Record<string, number>
    assert.equal(claims.exp - claims.iat, 5400)
    assert.ok(!result.stderr.includes(token))
  })

  it('signs HS256 with GATEWAY_JWT_SECRET when JWT_ALGORITHM is HS256, never showing the secret', async () => {
    const cwd = await envDir(hs256Settings())
    const result = await mint(cwd, ['--username', 'alice'])
    assert.equal(result.code, 0, result.stderr)
    const [header, payload, signature] = (await savedToken(cwd)).split('.')
    assert.equal(signature, createHmac('sha256', HS256_SECRET).update(`${header}.${payload}`).digest('base64url'))
    assertNoLeak(result, HS256_SECRET, `${header}.${payload}`)
  })

  it('adds TOKEN_CUSTOM_CLAIMS, and refuses ones that would replace a gateway claim (exit 2, nothing written)', async () => {
    const cwd = await envDir([...rs256Settings(keys), `TOKEN_CUSTOM_CLAIMS='{"org": "mycompany", "role": "developer"}'`])
    assert.equal((await mint(cwd, ['--username', 'alice'])).code, 0)
    const claims = decodeSegment(await savedToken(cwd), 1)
    assert.equal(claims.org, 'mycompany')
    assert.equal(claims.role, 'developer')

    const reservedCwd = await envDir(rs256Settings(keys))
    const before = await readFile(join(reservedCwd, '.env'), 'utf8')
    const keysBefore = (await ctx.redis.keys('oauth:*')).sort()
    const refused = await mint(reservedCwd, ['--username', 'alice'], {TOKEN_CUSTOM_CLAIMS: '{"username": "root", "org": "x"}'})
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /TOKEN_CUSTOM_CLAIMS may not set username/)
    assert.equal(await readFile(join(reservedCwd, '.env'), 'utf8'), before)
    assert.deepEqual((await ctx.redis.keys('oauth:*')).sort(), keysBefore)
  })

  it('exits 4 and changes nothing when the key is not base64 or Redis is unreachable', async () => {
    const badKey = await envDir(['BASE_DOMAIN=gateway.test', 'JWT_PRIVATE_KEY_B64=%%%not-base64%%%'])
    const keyResult = await mint(badKey, ['--username', 'alice'])
    assert.equal(keyResult.code, 4)
    assert.match(keyResult.stderr, /^Error: JWT_PRIVATE_KEY_B64 cannot be used: not valid base64\.\n/)
    assert.ok(!(await readFile(join(badKey, '.env'), 'utf8')).includes('MCP_CLIENT_ACCESS_TOKEN'))

    const cwd = await envDir(rs256Settings(keys))
    const before = await readFile(join(cwd, '.env'), 'utf8')
    const deadPort = await freePort()
    const redisResult = await runCli(['mcp-client-token', '--mint', '--username', 'alice', '--redis-url', `redis://127.0.0.1:${deadPort}/0`], {cwd})
    assert.equal(redisResult.code, 4)
    assert.equal(await readFile(join(cwd, '.env'), 'utf8'), before)
    assert.deepEqual(await ctx.redis.keys('oauth:*'), [])
  })

  it('removes the Redis record again when .env cannot be written (no orphan token)', async function () {
    if (!existsSync('/proc/version')) this.skip() // a read-only file even root cannot replace
    const cwd = await envDir([])
    await symlink('/proc/version', join(cwd, 'gateway.env'))
    const result = await ctx.cli(['mcp-client-token', '--mint', '--username', 'alice', '--env-file', 'gateway.env'], {
      cwd,
      env: {BASE_DOMAIN: 'gateway.test', JWT_PRIVATE_KEY_B64: keys.privateKeyB64},
    })
    assert.equal(result.code, 4, result.stderr)
    // The .env is locked and written at its real path (/proc/version): either step may be the one refused.
    assert.match(result.stderr, /Error: Cannot (write gateway\.env|create the lock \/proc\/version\.lock): /)
    assert.deepEqual(await ctx.redis.keys('oauth:*'), [])
  })
})

describe('token minting library', () => {
  const ctx = useRedis()
  const settings = new Settings('.env', true, new Map([['JWT_PRIVATE_KEY_B64', keys.privateKeyB64]]), {})
  const request = {sub: '1', username: 'alice', email: null, name: null, scope: 'openid', clientId: 'client_x', lifetimeSeconds: 60}

  it('unregisters the token when persisting it fails, and rethrows', async () => {
    await ctx.redis.sadd('oauth:user_tokens:alice', 'earlier-jti')
    let seenJti = ''
    const failing = mintAccessToken(ctx.redis, {key: gatewaySigningKey(settings), issuer: ISSUER}, request, async ({jti}) => {
      seenJti = jti
      assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
      throw new Error('disk full')
    })
    await assert.rejects(failing, /disk full/)
    assert.equal(await ctx.redis.exists(`oauth:token:${seenJti}`), 0)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), ['earlier-jti'])
  })

  it('writes records byte for byte as Python json.dumps does', () => {
    assert.equal(gatewayJson({name: 'Zoë', email: null, n: 1, list: ['a']}), '{"name": "Zo\\u00eb", "email": null, "n": 1, "list": ["a"]}')
  })

  it('reads TOKEN_CUSTOM_CLAIMS as a JSON object only', () => {
    assert.deepEqual(parseCustomClaims('{"org": "x"}'), {org: 'x'})
    assert.deepEqual(parseCustomClaims(undefined), {})
    assert.throws(() => parseCustomClaims('[1]'), {exitCode: 2})
    assert.throws(() => parseCustomClaims('{org'), {exitCode: 2, message: /not valid JSON/})
    assert.throws(() => parseCustomClaims('{"exp": 1, "iss": "x"}'), {exitCode: 2, message: /may not set exp, iss/})
  })
})
