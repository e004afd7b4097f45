import {strict as assert} from 'node:assert'
import {stat} from 'node:fs/promises'
import {join} from 'node:path'

import {decodeJwt} from '../../src/jwt/codec.js'
import {parseJson, runCli} from '../support/cli.js'
import {egressDocument, fromNow, loginsPlace, namedLoginLines, writeEgressFile} from '../support/logins.js'
import {type TestOAuthProvider, signedInLogin, startOAuthProvider} from '../support/oauth-provider.js'

/** The refresh grant at the token endpoint, asked directly: how a spent refresh token is told from a live one. */
async function refreshGrantError(
  provider: TestOAuthProvider,
  client: {client_id: string; client_secret?: string},
  refreshToken: string,
): Promise<string | undefined> {
  const response = await fetch(`${provider.url}/token`, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: client.client_id,
      client_secret: client.client_secret ?? '',
    }),
  })
  return ((await response.json()) as {error?: string}).error
}

const statusOf = (report: any, name: string) => report.tokens.find((token: any) => token.name === name)

describe('refresh-tokens over many logins', function () {
  this.timeout(90_000)
  /** Keycloak, Atlassian: every refresh spends the refresh token and answers a new one. */
  let rotating: TestOAuthProvider
  /** Google: the refresh token stays, and the answer carries none. */
  let keepsRefreshToken: TestOAuthProvider
  /** No expires_in in the answer: an opaque token's expiry is unknown. */
  let noExpiresIn: TestOAuthProvider
  /** No expires_in either, but JWT access tokens for the resource asked: their exp says. */
  let jwtNoExpiresIn: TestOAuthProvider

  before(async () => {
    rotating = await startOAuthProvider({accessTokenTtl: 600})
    keepsRefreshToken = await startOAuthProvider({accessTokenTtl: 600, rotateRefreshToken: false, refreshAnswerOmits: ['refresh_token']})
    noExpiresIn = await startOAuthProvider({accessTokenTtl: 600, refreshAnswerOmits: ['expires_in']})
    jwtNoExpiresIn = await startOAuthProvider({accessTokenTtl: 900, refreshAnswerOmits: ['expires_in'], resourceIndicators: {jwt: true}})
  })
  after(async () => {
    for (const provider of [rotating, keepsRefreshToken, noExpiresIn, jwtNoExpiresIn]) await provider.close()
  })

  it('saves the new refresh token of a rotating provider in the same write, so the spent one is never used again', async () => {
    const login = await signedInLogin(rotating)
    const place = await loginsPlace(['# kept', ...namedLoginLines('KEYCLOAK', login), 'OTHER=kept'])
    const result = await runCli(['refresh-tokens', '--json'], {cwd: place.cwd})
    assert.equal(result.code, 0, result.stderr)
    const token = statusOf(parseJson(result), 'KEYCLOAK_ACCESS_TOKEN')
    assert.deepEqual([token.login, token.status, token.refresh_token_rotated], ['keycloak', 'refreshed', true])
    const saved = await place.envValues()
    assert.notEqual(saved.get('KEYCLOAK_REFRESH_TOKEN'), login.refreshToken)
    assert.equal(await rotating.isActiveAccessToken(saved.get('KEYCLOAK_ACCESS_TOKEN')!), true)
    assert.equal(await refreshGrantError(rotating, login.client, login.refreshToken), 'invalid_grant', 'the old refresh token was spent')
    assert.equal(saved.get('OTHER'), 'kept')
  })

  it('keeps the saved refresh token when the answer has none (Google), in a token file whose other fields stay', async () => {
    const login = await signedInLogin(keepsRefreshToken)
    const place = await loginsPlace([`GOOGLE_SECRET=${login.client.client_secret}`])
    const before = egressDocument('google', login, 'GOOGLE_SECRET')
    await writeEgressFile(place, 'google-egress.json', before)
    for (const round of [1, 2]) {
      const result = await runCli(['refresh-tokens', '--force', '--tokens-dir', place.tokensDir, '--json'], {cwd: place.cwd})
      assert.equal(result.code, 0, result.stderr)
      const token = statusOf(parseJson(result), 'google-egress.json')
      assert.deepEqual([token.login, token.status, token.refresh_token_rotated], ['google', 'refreshed', false], `round ${round}`)
    }
    const after = await place.readTokenFile('google-egress.json')
    assert.equal(after.refresh_token, login.refreshToken)
    assert.notEqual(after.access_token, login.accessToken)
    assert.equal(await keepsRefreshToken.isActiveAccessToken(after.access_token), true)
    assert.ok(Math.abs(after.expires_at - fromNow(600)) < 30, `expires_at ${after.expires_at}`)
    assert.deepEqual(Object.keys(after), Object.keys(before), 'fields and their order kept')
    for (const field of ['provider', 'cloud_id', 'saved_at', 'client_secret_env']) assert.equal(after[field], before[field], field)
    assert.equal((await stat(join(place.tokensDir, 'google-egress.json'))).mode & 0o777, 0o600)
  })

  it("takes a JWT's exp when the answer has no expires_in, and counts an opaque token's expiry as unknown", async () => {
    const resource = 'https://mcp.example.com/tools/mcp'
    const jwtLogin = await signedInLogin(jwtNoExpiresIn, {resource})
    const opaqueLogin = await signedInLogin(noExpiresIn)
    const place = await loginsPlace([...namedLoginLines('OPAQUE', opaqueLogin), `JWTS_SECRET=${jwtLogin.client.client_secret}`])
    await writeEgressFile(place, 'jwts-egress.json', {...egressDocument('jwts', jwtLogin, 'JWTS_SECRET'), resource})

    const first = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--json'], {cwd: place.cwd})
    assert.equal(first.code, 0, first.stderr)
    const file = await place.readTokenFile('jwts-egress.json')
    const exp = decodeJwt(file.access_token).claims.exp as number
    assert.equal(file.expires_at, exp)
    assert.ok(Math.abs(exp - fromNow(900)) < 30)
    assert.equal(statusOf(parseJson(first), 'jwts-egress.json').expires_at, new Date(exp * 1000).toISOString())
    assert.equal(statusOf(parseJson(first), 'OPAQUE_ACCESS_TOKEN').expires_at, null)
    assert.equal((await place.envValues()).has('OPAQUE_ACCESS_TOKEN_EXPIRES_AT'), false, 'a stale expiry was left beside the new token')

    const second = parseJson(await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--buffer', '5m', '--json'], {cwd: place.cwd}))
    assert.equal(statusOf(second, 'OPAQUE_ACCESS_TOKEN').status, 'unknown_expiry')
    assert.equal(statusOf(second, 'jwts-egress.json').status, 'still_valid')
  })

  it('names the login whose refresh token was revoked, with the command to sign in again, refreshes the others and exits 4', async () => {
    const revoked = await signedInLogin(rotating)
    const named = await signedInLogin(rotating)
    const other = await signedInLogin(keepsRefreshToken)
    await rotating.revokeRefreshToken(revoked.refreshToken)
    const place = await loginsPlace([
      ...namedLoginLines('JIRA', named),
      `SRE_SECRET=${revoked.client.client_secret}`,
      `DOCS_SECRET=${other.client.client_secret}`,
    ])
    await writeEgressFile(place, 'atlassian-sre-egress.json', egressDocument('atlassian', revoked, 'SRE_SECRET'))
    await writeEgressFile(place, 'google-docs-egress.json', egressDocument('google', other, 'DOCS_SECRET'))
    const untouched = await place.readTokenFile('atlassian-sre-egress.json')

    const result = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir], {cwd: place.cwd})
    assert.equal(result.code, 4, result.stderr)
    assert.match(result.stdout, /JIRA_ACCESS_TOKEN\s+│\s+refreshed/)
    assert.match(result.stdout, /google-docs-egress\.json\s+│\s+refreshed/)
    assert.match(result.stdout, /atlassian-sre-egress\.json\s+│\s+FAILED/)
    assert.match(
      result.stderr,
      /^Error: atlassian-sre-egress\.json: the refresh_token of atlassian-sre-egress\.json was refused \(invalid_grant\): .*a new login is needed\.\nHint: run mcpauth mcp-client-token --name atlassian-sre --tokens-dir \S+ --force\n$/,
    )
    assert.deepEqual(await place.readTokenFile('atlassian-sre-egress.json'), untouched)

    const json = parseJson(await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--json'], {cwd: place.cwd}))
    assert.deepEqual([json.refreshed, json.failed], [2, 1])
  })

  it('refreshes what expires within TOKEN_EXPIRY_BUFFER (from .env or the environment), and --buffer wins over it', async () => {
    const login = await signedInLogin(rotating)
    const twoHoursLeft = namedLoginLines('ACME', login, fromNow(7200))
    const idle = await loginsPlace(twoHoursLeft)
    assert.equal(statusOf(parseJson(await runCli(['refresh-tokens', '--json'], {cwd: idle.cwd})), 'ACME_ACCESS_TOKEN').status, 'still_valid')
    const fromEnvFile = await loginsPlace(['TOKEN_EXPIRY_BUFFER=3h', ...twoHoursLeft])
    const flagWins = parseJson(await runCli(['refresh-tokens', '--buffer', '1h', '--json'], {cwd: fromEnvFile.cwd}))
    assert.deepEqual([flagWins.buffer_seconds, statusOf(flagWins, 'ACME_ACCESS_TOKEN').status], [3600, 'still_valid'])
    const viaFile = parseJson(await runCli(['refresh-tokens', '--json'], {cwd: fromEnvFile.cwd}))
    assert.deepEqual([viaFile.buffer_seconds, statusOf(viaFile, 'ACME_ACCESS_TOKEN').status], [10_800, 'refreshed'])
    const viaEnvironment = await loginsPlace(namedLoginLines('ACME', await signedInLogin(rotating), fromNow(7200)))
    const report = parseJson(await runCli(['refresh-tokens', '--json'], {cwd: viaEnvironment.cwd, env: {TOKEN_EXPIRY_BUFFER: '10800'}}))
    assert.equal(statusOf(report, 'ACME_ACCESS_TOKEN').status, 'refreshed')
  })

  it("reads the registry's own egress files as they are: the client from EGRESS_OAUTH_CLIENT_ID_<N>, and says what a file lacks", async () => {
    const login = await signedInLogin(rotating)
    const place = await loginsPlace([
      'EGRESS_PROVIDER_NAME_3=keycloak',
      'EGRESS_MCP_SERVER_NAME_3=sre',
      `EGRESS_OAUTH_CLIENT_ID_3=${login.client.client_id}`,
      `EGRESS_OAUTH_CLIENT_SECRET_3=${login.client.client_secret}`,
      'EGRESS_OAUTH_REDIRECT_URI_3=http://localhost:8080/callback',
    ])
    const registryFile = {
      provider: 'keycloak',
      access_token: login.accessToken,
      refresh_token: login.refreshToken,
      expires_at: fromNow(60),
      expires_at_human: 'soon',
      cloud_id: null,
      scopes: ['openid', 'offline_access'],
      saved_at: '2025-01-01 00:00:00 UTC',
      usage_notes: 'This token is for EGRESS authentication to keycloak external services',
    }
    await writeEgressFile(place, 'keycloak-sre-egress.json', registryFile)
    await writeEgressFile(place, 'bedrock-agentcore-tools-egress.json', {
      provider: 'bedrock-agentcore',
      access_token: 'opaque-agentcore-token',
      expires_at: fromNow(86_400),
    })

    const lacking = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir], {cwd: place.cwd})
    assert.equal(lacking.code, 4, 'a due login nothing can refresh needs the operator')
    const warnings = lacking.stderr.split('\n').filter((line) => line.startsWith('Warning:'))
    assert.deepEqual(warnings, [
      'Warning: bedrock-agentcore-tools-egress.json: cannot be refreshed until you add "refresh_token" in the file (sign in again to get one); "client_id" in the file (and "client_secret_env" naming the key of its secret in .env), or EGRESS_OAUTH_CLIENT_ID_<N> and EGRESS_PROVIDER_NAME_<N>=bedrock-agentcore in .env; "token_endpoint" (or "issuer", for discovery) in the file.',
      'Warning: keycloak-sre-egress.json: cannot be refreshed until you add "token_endpoint" (or "issuer", for discovery) in the file.',
    ])

    await writeEgressFile(place, 'keycloak-sre-egress.json', {...registryFile, issuer: rotating.url})
    const result = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--json'], {cwd: place.cwd})
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.deepEqual([statusOf(report, 'keycloak-sre-egress.json').status, report.incomplete], ['refreshed', 1])
    const after = await place.readTokenFile('keycloak-sre-egress.json')
    assert.deepEqual(after.scopes, ['openid', 'offline_access'])
    assert.equal(after.expires_at_human, new Date(after.expires_at * 1000).toISOString())
    assert.equal(after.usage_notes, registryFile.usage_notes)
    assert.equal(await rotating.isActiveAccessToken(after.access_token), true)
  })

  it("refreshes the gateway's own login against a real authorization server", async () => {
    const login = await signedInLogin(rotating)
    const place = await loginsPlace([
      `GATEWAY_AUTH_URL=${rotating.url}`,
      `GATEWAY_OAUTH_CLIENT_ID=${login.client.client_id}`,
      `GATEWAY_OAUTH_CLIENT_SECRET=${login.client.client_secret}`,
      `GATEWAY_OAUTH_ACCESS_TOKEN=${login.accessToken}`,
      `GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT=${fromNow(60)}`,
      `GATEWAY_OAUTH_REFRESH_TOKEN=${login.refreshToken}`,
    ])
    const result = await runCli(['refresh-tokens', '--json'], {cwd: place.cwd})
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).tokens.map((token: any) => [token.name, token.login, token.status]),
      [['GATEWAY_OAUTH_ACCESS_TOKEN', 'gateway', 'refreshed']],
    )
    const saved = await place.envValues()
    assert.equal(await rotating.isActiveAccessToken(saved.get('GATEWAY_OAUTH_ACCESS_TOKEN')!), true)
    assert.equal(await refreshGrantError(rotating, login.client, saved.get('GATEWAY_OAUTH_REFRESH_TOKEN')!), undefined, 'the saved refresh token is live')
  })
})

describe('refresh-tokens sends the MCP server as the resource (RFC 8707)', function () {
  this.timeout(60_000)
  let provider: TestOAuthProvider
  const mcpPath = '/servers/fetch/mcp'

  before(async () => {
    provider = await startOAuthProvider({
      accessTokenTtl: 600,
      resourceIndicators: {jwt: true},
      intercept(request, response) {
        if (request.url !== `/.well-known/oauth-protected-resource${mcpPath}`) return false
        response.writeHead(200, {'content-type': 'application/json'})
        response.end(JSON.stringify({resource: `${provider.url}${mcpPath}`, authorization_servers: [provider.url]}))
        return true
      },
    })
  })
  after(async () => provider.close())

  it('on the refresh of the MCP client login, so the new token is issued for that server', async () => {
    const resource = `${provider.url}${mcpPath}`
    const login = await signedInLogin(provider, {resource})
    const place = await loginsPlace([
      `MCP_SERVER_URL=${resource}`,
      `MCP_CLIENT_ID=${login.client.client_id}`,
      `MCP_CLIENT_SECRET=${login.client.client_secret}`,
      `MCP_CLIENT_ACCESS_TOKEN=${login.accessToken}`,
      `MCP_CLIENT_REFRESH_TOKEN=${login.refreshToken}`,
    ])
    const result = await runCli(['refresh-tokens', '--force', '--json'], {cwd: place.cwd})
    assert.equal(result.code, 0, result.stderr)
    const refresh = provider.tokenRequests.filter((request) => request.grant_type === 'refresh_token').at(-1)!
    assert.equal(refresh.resource, resource)
    assert.equal(decodeJwt((await place.envValues()).get('MCP_CLIENT_ACCESS_TOKEN')!).claims.aud, resource)
  })

  it('on the refresh of a named login made for an MCP server', async () => {
    const resource = `${provider.url}${mcpPath}`
    const login = await signedInLogin(provider, {resource})
    const place = await loginsPlace([...namedLoginLines('FETCH', login), `FETCH_SERVER_URL=${resource}`, `FETCH_RESOURCE=${resource}`])
    const grantsBefore = provider.refreshGrants
    const result = await runCli(['refresh-tokens', '--json'], {cwd: place.cwd})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(statusOf(parseJson(result), 'FETCH_ACCESS_TOKEN').status, 'refreshed')
    assert.equal(provider.refreshGrants, grantsBefore + 1)
    assert.equal(provider.tokenRequests.at(-1)!.resource, resource)
    const saved = (await place.envValues()).get('FETCH_ACCESS_TOKEN')!
    assert.notEqual(saved, login.accessToken)
    assert.equal(decodeJwt(saved).claims.aud, resource)
  })
})
