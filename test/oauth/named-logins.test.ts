import {strict as assert} from 'node:assert'
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {signInThroughPages} from '../support/browser.js'
import {type CliResult, parseJson, runCli, startCli} from '../support/cli.js'
import {loginsPlace} from '../support/logins.js'
import {type TestOAuthProvider, startOAuthProvider} from '../support/oauth-provider.js'

/** A client the operator registered by hand in the provider's console: here, by RFC 7591 before the test. */
async function handRegisteredClient(provider: TestOAuthProvider): Promise<{client_id: string; client_secret: string}> {
  const response = await fetch(`${provider.url}/reg`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({
      client_name: 'registered by hand',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_method: 'client_secret_post',
      application_type: 'native',
    }),
  })
  return (await response.json()) as {client_id: string; client_secret: string}
}

/** Runs a device-flow sign-in and approves the code it shows, as the user would on another device. */
async function deviceSignIn(provider: TestOAuthProvider, cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const cli = await startCli(['mcp-client-token', '--device', '--json', ...args], {cwd, env})
  const [, userCode] = await cli.waitForStderr(/enter the code (\S+?)[ .]/)
  await provider.approveDevice(userCode)
  return cli.done
}

function assertNothingSecretPrinted(result: CliResult, secrets: Array<string | undefined>): void {
  for (const secret of secrets.filter((value): value is string => Boolean(value))) {
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'a secret was printed')
  }
}

describe('mcp-client-token --name: logins of their own at any OAuth provider', function () {
  this.timeout(60_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider({accessTokenTtl: 600})
  })
  after(async () => provider.close())

  it("signs in at a provider given by its issuer with a client registered by hand, into a token file in the registry's format", async () => {
    const client = await handRegisteredClient(provider)
    const place = await loginsPlace(['# the operator keeps the secret here', `KC_APP_SECRET=${client.client_secret}`])
    const args = ['--name', 'keycloak', '--issuer', provider.url, '--client-id', client.client_id, '--client-secret', 'env:KC_APP_SECRET']
    const result = await deviceSignIn(provider, place.cwd, [...args, '--scope', 'openid offline_access', '--tokens-dir', place.tokensDir])
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    const path = join(place.tokensDir, 'keycloak-egress.json')
    assert.deepEqual([report.status, report.saved_to, report.client_id, report.client_registered], ['signed_in', path, client.client_id, false])

    const file = await place.readTokenFile('keycloak-egress.json')
    assert.deepEqual(Object.keys(file).sort(), [
      'access_token',
      'client_id',
      'client_secret_env',
      'expires_at',
      'issuer',
      'provider',
      'refresh_token',
      'scope',
      'token_endpoint',
      'token_type',
    ])
    assert.deepEqual([file.provider, file.token_type, file.issuer, file.token_endpoint], ['keycloak', 'Bearer', provider.url, `${provider.url}/token`])
    assert.ok(Math.abs(file.expires_at - (Date.now() / 1000 + 600)) < 30)
    assert.equal(file.client_secret_env, 'KEYCLOAK_CLIENT_SECRET')
    assert.ok(!JSON.stringify(file).includes(client.client_secret), 'the client secret is in the token file')
    assert.equal((await place.envValues()).get('KEYCLOAK_CLIENT_SECRET'), client.client_secret)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal(await provider.isActiveAccessToken(file.access_token), true)
    assertNothingSecretPrinted(result, [file.access_token, file.refresh_token, client.client_secret])

    const refreshed = await runCli(['refresh-tokens', '--force', '--tokens-dir', place.tokensDir, '--json'], {cwd: place.cwd})
    assert.equal(refreshed.code, 0, refreshed.stderr)
    assert.equal(parseJson(refreshed).tokens[0].status, 'refreshed')
  })

  it('signs in against an MCP server, keeps the login under its name in .env, and signs in again by the name alone', async () => {
    const place = await loginsPlace(['OTHER=kept'])
    const cli = await startCli(['mcp-client-token', '--name', 'docs', '--server-url', `${provider.url}/docs/mcp`, '--no-browser', '--json'], {cwd: place.cwd})
    const [, authorizationUrl] = await cli.waitForStderr(/^(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m)
    const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri')!
    assert.equal((await fetch(await signInThroughPages(authorizationUrl, {stopAt: redirectUri}))).status, 200)
    cli.endInput()
    const first = await cli.done
    assert.equal(first.code, 0, first.stderr)
    assert.equal(parseJson(first).client_registered, true)
    const saved = await place.envValues()
    for (const key of ['DOCS_ACCESS_TOKEN', 'DOCS_REFRESH_TOKEN', 'DOCS_CLIENT_ID', 'DOCS_CLIENT_SECRET', 'DOCS_TOKEN_ENDPOINT', 'DOCS_ISSUER']) {
      assert.ok(saved.get(key), `${key} was not saved`)
    }
    assert.equal(saved.get('DOCS_SERVER_URL'), `${provider.url}/docs/mcp`)
    assert.equal(saved.has('MCP_CLIENT_ACCESS_TOKEN'), false, "the MCP client's own login was touched")
    assert.equal(saved.get('OTHER'), 'kept')

    const kept = await runCli(['mcp-client-token', '--name', 'docs', '--json'], {cwd: place.cwd})
    assert.equal(parseJson(kept).status, 'kept')
    const again = await deviceSignIn(provider, place.cwd, ['--name', 'docs', '--force'])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual([parseJson(again).status, parseJson(again).client_registered], ['signed_in', false])
    assert.notEqual((await place.envValues()).get('DOCS_ACCESS_TOKEN'), saved.get('DOCS_ACCESS_TOKEN'))
  })

  it('refuses a client secret given on the command line, without echoing it, and changes nothing', async () => {
    const place = await loginsPlace(['A=1'])
    const before = await readFile(place.envPath, 'utf8')
    const secret = 'literal-secret-value-123'
    const result = await runCli(['mcp-client-token', '--name', 'acme', '--issuer', provider.url, '--client-id', 'abc', '--client-secret', secret], {
      cwd: place.cwd,
    })
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /--client-secret takes env:VAR or file:PATH, never the secret itself/)
    assertNothingSecretPrinted(result, [secret])
    assert.equal(await readFile(place.envPath, 'utf8'), before)
  })

  it('says where to sign in when a new login has neither --issuer nor --server-url, and keeps the built-in names for the built-in logins', async () => {
    const place = await loginsPlace()
    const nowhere = await runCli(['mcp-client-token', '--name', 'acme'], {cwd: place.cwd})
    assert.equal(nowhere.code, 2)
    assert.match(
      nowhere.stderr,
      /^Error: The login "acme" does not say where to sign in yet\.\nHint: Give the MCP server with --server-url URL, or the OAuth provider with --issuer URL/,
    )
    const reserved = await runCli(['mcp-client-token', '--name', 'mcp-client', '--issuer', provider.url], {cwd: place.cwd})
    assert.equal(reserved.code, 2)
    assert.match(reserved.stderr, /"mcp-client" is the name of a built-in login/)
  })
})
