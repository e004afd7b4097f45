import {strict as assert} from 'node:assert'

import {publicJwk} from '../../src/jwt/keys.js'
import {type CliResult, parseJson} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {
  envDir,
  gatewayClaims,
  handSignedHs256,
  handSignedRs256,
  HS256_SECRET,
  hs256Settings,
  ISSUER,
  nowSeconds,
  rs256Settings,
  rsaKeyPair,
  unsignedToken,
} from '../support/jwt-fixtures.js'
import {freePort} from '../support/redis-server.js'
import {startGithubApi, startJwksServer} from '../support/loopback-http.js'

const keys = rsaKeyPair()
const otherKeys = rsaKeyPair()
const GITHUB_TOKEN = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`

function assertNoLeak(result: CliResult, ...secrets: string[]): void {
  for (const secret of secrets) {
    for (const part of secret.split('.')) {
      assert.ok(!result.stdout.includes(part), 'a secret leaked on stdout')
      assert.ok(!result.stderr.includes(part), 'a secret leaked on stderr')
    }
  }
}

describe('validate-tokens', () => {
  const ctx = useRedis()

  /** A token signed by hand (not by src/jwt) whose record the gateway wrote to Redis. */
  async function issuedToken(claims = gatewayClaims(), sign = (c: Record<string, unknown>) => handSignedRs256(c, keys.privateKey)) {
    await ctx.gateway.accessToken({username: String(claims.username), clientId: String(claims.client_id), jti: String(claims.jti)})
    return {token: sign(claims), jti: String(claims.jti)}
  }

  const validate = async (lines: string[], args: string[] = [], input?: string) => ctx.cli(['validate-tokens', ...args], {cwd: await envDir(lines), input})

  it('accepts a valid RS256 token and shows one row with user and result', async () => {
    const {token} = await issuedToken()
    const result = await validate([...rs256Settings(keys), `MCP_CLIENT_ACCESS_TOKEN=${token}`])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /MCP_CLIENT_ACCESS_TOKEN[^\n]*alice \(sub 4242\)[^\n]*valid[^\n]*checked format, signature, iss, exp, jti, redis/)
    assert.match(result.stderr, /1 token checked: 1 valid, 0 invalid/)
    assertNoLeak(result, token)
  })

  it('accepts a valid HS256 token and reports JSON with a stable shape', async () => {
    const {token, jti} = await issuedToken(gatewayClaims(), (claims) => handSignedHs256(claims, HS256_SECRET))
    const result = await validate([...hs256Settings(), `GATEWAY_OAUTH_ACCESS_TOKEN=${token}`], ['--json'])
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.deepEqual(Object.keys(report), ['valid', 'invalid', 'tokens'])
    assert.deepEqual(report.tokens[0], {
      name: 'GATEWAY_OAUTH_ACCESS_TOKEN',
      kind: 'jwt',
      valid: true,
      reason: null,
      subject: '4242',
      username: 'alice',
      client_id: 'client_AbCdEfGhIjKlMnOpQrStUv',
      jti,
      audience: [ISSUER],
      expires_at: report.tokens[0].expires_at,
      checks: ['format', 'signature', 'iss', 'exp', 'jti', 'redis'],
    })
    assertNoLeak(result, token, HS256_SECRET)
  })

  it('gives each bad token one line with its reason, and exits 3', async () => {
    const wrongKey = await issuedToken(gatewayClaims(), (claims) => handSignedRs256(claims, otherKeys.privateKey))
    const none = await issuedToken(gatewayClaims(), (claims) => unsignedToken(claims))
    const confused = await issuedToken(gatewayClaims(), (claims) => handSignedHs256(claims, keys.publicKeyPem))
    const expired = await issuedToken(gatewayClaims({exp: nowSeconds() - 3600}))
    const [header, payload, signature] = handSignedRs256(gatewayClaims(), keys.privateKey).split('.')
    const lines = [
      ...rs256Settings(keys),
      `WRONG_KEY=${wrongKey.token}`,
      `ALG_NONE=${none.token}`,
      `CONFUSED=${confused.token}`,
      `EXPIRED=${expired.token}`,
      `BAD_BASE64=${header}.${payload}!.${signature}`,
    ]
    const names = ['WRONG_KEY', 'ALG_NONE', 'CONFUSED', 'EXPIRED', 'BAD_BASE64']
    const result = await validate(lines, [...names.flatMap((name) => ['--token-env', name]), '--json'])
    assert.equal(result.code, 3, result.stderr)
    const {EXPIRED, ...reasons} = Object.fromEntries(parseJson(result).tokens.map((token: any) => [token.name, token.valid ? 'valid' : token.reason]))
    assert.deepEqual(reasons, {
      WRONG_KEY: 'signature does not match JWT_PRIVATE_KEY_B64',
      ALG_NONE: 'alg is "none": an unsigned token is never accepted',
      CONFUSED: 'signed with HS256, but the gateway uses RS256: refused',
      BAD_BASE64: 'payload segment is not valid base64url',
    })
    assert.match(EXPIRED, /^expired 1h( \d+s)? ago \(\d{4}-/)
    const table = await validate(
      lines,
      names.flatMap((name) => ['--token-env', name]),
    )
    assert.equal(table.code, 3)
    assert.match(table.stdout, /CONFUSED[^\n]*INVALID[^\n]*signed with HS256/)
    assert.match(table.stderr, /5 tokens checked: 0 valid, 5 invalid/)
  })

  it('says a token is revoked once its Redis record is gone, and skips that check with --no-redis', async () => {
    const {token, jti} = await issuedToken()
    await ctx.redis.del(`oauth:token:${jti}`)
    const lines = [...rs256Settings(keys), `MCP_CLIENT_ACCESS_TOKEN=${token}`]
    const result = await validate(lines)
    assert.equal(result.code, 3)
    assert.match(result.stdout, new RegExp(`INVALID[^\\n]*revoked: oauth:token:${jti} is gone from Redis`))
    const offline = await validate(lines, ['--no-redis', '--json'])
    assert.equal(offline.code, 0, offline.stderr)
    assert.deepEqual(parseJson(offline).tokens[0].checks, ['format', 'signature', 'iss', 'exp', 'jti'])
  })

  it('exits 4 with the connection message when Redis cannot be reached', async () => {
    const {token} = await issuedToken()
    const deadPort = await freePort()
    const result = await validate([...rs256Settings(keys), `MCP_CLIENT_ACCESS_TOKEN=${token}`], ['--redis-url', `redis://127.0.0.1:${deadPort}/0`])
    assert.equal(result.code, 4)
    assert.match(result.stderr, /^Error: .*127\.0\.0\.1:\d+.*\n/)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('checks a token piped on stdin, and only that one', async () => {
    const {token} = await issuedToken()
    const result = await validate([...rs256Settings(keys), 'MCP_CLIENT_ACCESS_TOKEN=not-a-jwt'], ['--stdin', '--json'], `${token}\n`)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).tokens.map((t: any) => [t.name, t.valid]),
      [['stdin', true]],
    )
    assertNoLeak(result, token)
  })

  it('reports a --token-env that is not set as invalid', async () => {
    const result = await validate(rs256Settings(keys), ['--token-env', 'NOT_THERE'])
    assert.equal(result.code, 3)
    assert.match(result.stdout, /NOT_THERE[^\n]*INVALID[^\n]*not set/)
  })

  it("verifies against the gateway's JWKS with --jwks-url", async () => {
    const server = await startJwksServer({keys: [{...publicJwk(keys.privateKey), kid: 'blessed-key-1'}]})
    try {
      const {token} = await issuedToken()
      const forged = await issuedToken(gatewayClaims(), (claims) => handSignedRs256(claims, otherKeys.privateKey))
      const lines = ['BASE_DOMAIN=gateway.test', `GOOD=${token}`, `FORGED=${forged.token}`]
      const result = await validate(lines, ['--token-env', 'GOOD', '--token-env', 'FORGED', '--jwks-url', `${server.url}/jwks`, '--json'])
      assert.equal(result.code, 3, result.stderr)
      assert.deepEqual(
        parseJson(result).tokens.map((t: any) => [t.name, t.valid]),
        [
          ['GOOD', true],
          ['FORGED', false],
        ],
      )
    } finally {
      await server.close()
    }
  })

  it('exits 4 with a one-line reason when the signing key is truncated', async () => {
    const {token} = await issuedToken()
    const lines = ['BASE_DOMAIN=gateway.test', `JWT_PRIVATE_KEY_B64=${keys.privateKeyB64.slice(0, 600)}`, `MCP_CLIENT_ACCESS_TOKEN=${token}`]
    const result = await validate(lines)
    assert.equal(result.code, 4)
    assert.match(result.stderr, /^Error: JWT_PRIVATE_KEY_B64 cannot be used: [^\n]+\nHint: /)
  })

  describe('GitHub tokens', () => {
    it('checks the format offline and never calls GitHub without --online', async () => {
      const github = await startGithubApi({})
      try {
        const env = {GITHUB_API_URL: github.url}
        const good = await ctx.cli(['validate-tokens', '--json'], {cwd: await envDir([`GITHUB_PAT=${GITHUB_TOKEN}`]), env})
        assert.equal(good.code, 0, good.stderr)
        assert.deepEqual(parseJson(good).tokens[0].checks, ['format'])
        for (const prefix of ['gho_', 'ghu_', 'ghs_', 'github_pat_']) {
          const other = await ctx.cli(['validate-tokens'], {cwd: await envDir([`GITHUB_PAT=${prefix}${'x'.repeat(40)}`]), env})
          assert.equal(other.code, 0, `${prefix}: ${other.stdout}`)
        }
        const truncated = await ctx.cli(['validate-tokens'], {cwd: await envDir([`GITHUB_PAT=${GITHUB_TOKEN.slice(0, 20)}`]), env})
        assert.equal(truncated.code, 3)
        assert.match(truncated.stdout, /personal access token of 20 characters: truncated\?/)
        const notGithub = await ctx.cli(['validate-tokens'], {cwd: await envDir(['GITHUB_PAT=hello-world-token']), env})
        assert.equal(notGithub.code, 3)
        assert.deepEqual(github.requests, [])
      } finally {
        await github.close()
      }
    })

    it("asks GitHub's /user with --online: the login for a good token, 401 for a bad one", async () => {
      const github = await startGithubApi({[GITHUB_TOKEN]: 'octocat'})
      try {
        const env = {GITHUB_API_URL: github.url}
        const good = await ctx.cli(['validate-tokens', '--online'], {cwd: await envDir([`GITHUB_PAT=${GITHUB_TOKEN}`]), env})
        assert.equal(good.code, 0, good.stderr)
        assert.match(good.stdout, /GITHUB_PAT[^\n]*octocat[^\n]*valid[^\n]*github \/user/)
        const revoked = `ghp_${'Z9'.repeat(18)}`
        const bad = await ctx.cli(['validate-tokens', '--online'], {cwd: await envDir([`GITHUB_PAT=${revoked}`]), env})
        assert.equal(bad.code, 3)
        assert.match(bad.stdout, /INVALID[^\n]*GitHub rejects it \(401 Bad credentials\)/)
        assert.deepEqual(github.requests, ['GET /user', 'GET /user'])
        assertNoLeak(good, GITHUB_TOKEN)
        assertNoLeak(bad, revoked)
      } finally {
        await github.close()
      }
    })
  })
})
