import {strict as assert} from 'node:assert'

import {parseDuration} from '../../src/time.js'
import {parseJson, runCli} from '../support/cli.js'
import {HS256_SECRET, envDir, gatewayClaims, handSignedRs256, nowSeconds, rs256Settings, rsaKeyPair, unsignedToken} from '../support/jwt-fixtures.js'

const keys = rsaKeyPair()
const tokenExpiringIn = (seconds: number, iat = nowSeconds() - 60): string =>
  handSignedRs256(gatewayClaims({iat, exp: nowSeconds() + seconds}), keys.privateKey)

describe('check-token-expiry', () => {
  it('reports every JWT and every token with an _EXPIRES_AT, and nothing that is a secret', async () => {
    const gatewayToken = tokenExpiringIn(7200, 1_700_000_000)
    const cwd = await envDir([
      ...rs256Settings(keys),
      `GATEWAY_JWT_SECRET=${HS256_SECRET}`,
      `GATEWAY_OAUTH_ACCESS_TOKEN=${gatewayToken}`,
      'GITHUB_PAT=ghu_0123456789abcdefghijABCDEFGHIJ012345',
      `GITHUB_PAT_EXPIRES_AT=${nowSeconds() + 86_400}`,
      'GITHUB_CLIENT_SECRET=0123456789abcdef0123456789abcdef01234567',
    ])
    const result = await runCli(['check-token-expiry', '--within', '30m', '--json'], {cwd})
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.deepEqual(Object.keys(report), ['env_file', 'within_seconds', 'checked_at', 'ok', 'tokens'])
    assert.equal(report.within_seconds, 1800)
    assert.equal(report.ok, true)
    assert.deepEqual(
      report.tokens.map((token: any) => [token.name, token.kind, token.status]),
      [
        ['GATEWAY_OAUTH_ACCESS_TOKEN', 'jwt', 'ok'],
        ['GITHUB_PAT', 'opaque', 'ok'],
      ],
    )
    const [jwt, github] = report.tokens
    assert.deepEqual(Object.keys(jwt), ['name', 'kind', 'issued_at', 'expires_at', 'seconds_left', 'status', 'problem'])
    assert.equal(jwt.issued_at, '2023-11-14T22:13:20.000Z')
    assert.ok(jwt.seconds_left > 7100 && jwt.seconds_left <= 7200, String(jwt.seconds_left))
    assert.equal(github.issued_at, null)
    assert.ok(github.seconds_left > 86_300)
  })

  it('exits 3 when a token expires within --within, and 0 when it does not', async () => {
    const cwd = await envDir([`MCP_CLIENT_ACCESS_TOKEN=${tokenExpiringIn(7200)}`])
    const soon = await runCli(['check-token-expiry', '--within', '3h'], {cwd})
    assert.equal(soon.code, 3, soon.stderr)
    assert.match(soon.stdout, /MCP_CLIENT_ACCESS_TOKEN[^\n]*EXPIRES SOON/)
    assert.match(soon.stderr, /1 token: 0 expired, 1 expiring within 3h/)
    for (const within of ['90m', '3600', '1h30m']) {
      const later = await runCli(['check-token-expiry', '--within', within], {cwd})
      assert.equal(later.code, 0, `${within}: ${later.stderr}`)
    }
    const inADay = await runCli(['check-token-expiry', '--within', '1d'], {cwd})
    assert.equal(inADay.code, 3)
  })

  it('exits 3 for an expired token with the default --within of 1h', async () => {
    const cwd = await envDir([`MCP_CLIENT_ACCESS_TOKEN=${tokenExpiringIn(-600)}`, 'OTHER_TOKEN_EXPIRES_AT=1', 'OTHER_TOKEN=opaque-value'])
    const result = await runCli(['check-token-expiry', '--json'], {cwd})
    assert.equal(result.code, 3)
    const report = parseJson(result)
    assert.equal(report.ok, false)
    assert.deepEqual(
      report.tokens.map((token: any) => [token.name, token.status]),
      [
        ['MCP_CLIENT_ACCESS_TOKEN', 'expired'],
        ['OTHER_TOKEN', 'expired'],
      ],
    )
    assert.ok(report.tokens[0].seconds_left <= -600)
  })

  it('fails an unsigned (alg none) token as unreadable', async () => {
    const cwd = await envDir([`MCP_CLIENT_ACCESS_TOKEN=${unsignedToken(gatewayClaims())}`])
    const result = await runCli(['check-token-expiry'], {cwd})
    assert.equal(result.code, 3)
    assert.match(result.stdout, /UNREADABLE: alg is "none"/)
  })

  it('warns about a malformed line by its number and goes on', async () => {
    const cwd = await envDir(['# gateway', 'this line is not an assignment', `MCP_CLIENT_ACCESS_TOKEN=${tokenExpiringIn(86_400)}`])
    const result = await runCli(['check-token-expiry'], {cwd})
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /Warning: \.env line 2 is not KEY=VALUE/)
    assert.doesNotMatch(result.stderr, /this line is not an assignment/)
    assert.match(result.stdout, /MCP_CLIENT_ACCESS_TOKEN/)
  })

  it('never prints a token, in the table or in --json', async () => {
    const token = tokenExpiringIn(600)
    const cwd = await envDir([`MCP_CLIENT_ACCESS_TOKEN=${token}`])
    for (const args of [['check-token-expiry'], ['check-token-expiry', '--json']]) {
      const result = await runCli(args, {cwd})
      assert.equal(result.code, 3)
      for (const part of token.split('.')) {
        assert.ok(!result.stdout.includes(part) && !result.stderr.includes(part), `a token segment leaked with ${args.join(' ')}`)
      }
    }
  })

  it('refuses a bad --within with exit 2, and a missing .env with exit 4', async () => {
    const cwd = await envDir([])
    const badWithin = await runCli(['check-token-expiry', '--within', 'soon'], {cwd})
    assert.equal(badWithin.code, 2)
    assert.match(badWithin.stderr, /--within must be a duration such as 3600, 90m, 2h or 1d, not "soon"/)
    const missing = await runCli(['check-token-expiry', '--env-file', 'nope.env'], {cwd})
    assert.equal(missing.code, 4)
    assert.match(missing.stderr, /Cannot read nope\.env/)
  })

  it('parses durations as operators type them', () => {
    assert.deepEqual(
      ['3600', '90m', '2h', '1d', '1h30m', '45s'].map((text) => parseDuration(text, '--within')),
      [3600, 5400, 7200, 86_400, 5400, 45],
    )
    assert.throws(() => parseDuration('-5m', '--within'), {exitCode: 2})
    assert.throws(() => parseDuration('2 hours', '--within'), {exitCode: 2})
  })
})
