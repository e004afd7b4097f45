import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {type Server, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {signInThroughPages} from '../support/browser.js'
import {type CliResult, parseJson, runCli, startCli} from '../support/cli.js'
import {type TestOAuthProvider, startOAuthProvider} from '../support/oauth-provider.js'

/**
 * Second and later browser sign-ins with the client saved in .env, against a
 * peer that matches redirect URIs exactly, port included, as the gateway
 * does: the saved client is only ever sent a redirect URI it registered.
 */

const AUTHORIZATION_URL = /^(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m

const envValues = async (cwd: string) => parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values

async function setEnv(cwd: string, changes: Record<string, string | null>): Promise<void> {
  const values = await envValues(cwd)
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) values.delete(key)
    else values.set(key, value)
  }
  await writeFile(join(cwd, '.env'), `${[...values].map(([key, value]) => `${key}=${value}`).join('\n')}\n`, {mode: 0o600})
}

/** Holds a TCP port, as another program would. */
async function occupy(port: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return server
}

/** Plays the browser for a sign-in the command started: signs in at the peer, then follows the redirect to the loopback URI. */
async function browserSignIn(args: string[], cwd: string, provider: TestOAuthProvider): Promise<{result: CliResult; redirectUri: string}> {
  const cli = await startCli([...args, '--no-browser', '--json'], {cwd})
  const [, authorizationUrl] = await cli.waitForStderr(AUTHORIZATION_URL)
  const url = new URL(authorizationUrl)
  const redirectUri = url.searchParams.get('redirect_uri')!
  const redirected = await signInThroughPages(authorizationUrl, {stopAt: redirectUri})
  assert.equal((await fetch(redirected)).status, 200)
  cli.endInput()
  const result = await cli.done
  assert.ok(provider.authorizationRequests.some((request) => request.redirect_uri === redirectUri))
  return {result, redirectUri}
}

describe('second browser sign-ins with the saved client (exact redirect URI matching)', function () {
  this.timeout(60_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider({exactRedirectUris: true, deviceFlow: false, resourceIndicators: {jwt: false}})
  })
  after(async () => provider.close())

  async function newDir(lines: string[]): Promise<string> {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-second-'))
    await writeFile(join(cwd, '.env'), [...lines, ''].join('\n'), {mode: 0o600})
    return cwd
  }

  it('mcp-client-token: the second sign-in re-uses the registered port, the third (port taken) updates the registration by RFC 7592', async () => {
    const cwd = await newDir([`MCP_SERVER_URL=${provider.url}`])
    const first = await browserSignIn(['mcp-client-token'], cwd, provider)
    assert.equal(first.result.code, 0, first.result.stderr)
    assert.equal(parseJson(first.result).client_redirect, 'registered')
    const saved = await envValues(cwd)
    assert.equal(saved.get('MCP_CLIENT_REDIRECT_URI'), first.redirectUri)

    const second = await browserSignIn(['mcp-client-token', '--force'], cwd, provider)
    assert.equal(second.result.code, 0, second.result.stderr)
    assert.equal(second.redirectUri, first.redirectUri, 'the second sign-in sent another redirect URI')
    const secondReport = parseJson(second.result)
    assert.deepEqual([secondReport.client_redirect, secondReport.client_registered, secondReport.client_id], ['reused', false, saved.get('MCP_CLIENT_ID')])
    assert.match(second.result.stderr, /Re-using client \S+ with its registered redirect URI http:\/\/127\.0\.0\.1:\d+\/callback\./)
    assert.match(second.result.stderr, /Waiting up to 10m for the sign-in to come back to http:\/\/127\.0\.0\.1:\d+\/callback .*; Ctrl-C stops\./)

    const port = Number(new URL(first.redirectUri).port)
    const blocker = await occupy(port)
    try {
      const third = await browserSignIn(['mcp-client-token', '--force'], cwd, provider)
      assert.equal(third.result.code, 0, third.result.stderr)
      assert.notEqual(third.redirectUri, first.redirectUri)
      assert.equal(parseJson(third.result).client_redirect, 'updated')
      assert.match(
        third.result.stderr,
        new RegExp(`Port ${port} of client \\S+'s redirect URI is in use: updated the registration of client \\S+ \\(RFC 7592\\)`),
      )
      assert.ok(provider.registrationRequests.some((request) => request.method === 'PUT' && request.clientId === saved.get('MCP_CLIENT_ID')))
      const after = await envValues(cwd)
      assert.equal(after.get('MCP_CLIENT_ID'), saved.get('MCP_CLIENT_ID'))
      assert.equal(after.get('MCP_CLIENT_REDIRECT_URI'), third.redirectUri)
      assert.equal(await provider.isActiveAccessToken(after.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
    } finally {
      blocker.close()
    }

    // And the next one uses the updated port again.
    const fourth = await browserSignIn(['mcp-client-token', '--force'], cwd, provider)
    assert.equal(fourth.result.code, 0, fourth.result.stderr)
    assert.equal(parseJson(fourth.result).client_redirect, 'reused')
    assert.equal(fourth.redirectUri, (await envValues(cwd)).get('MCP_CLIENT_REDIRECT_URI'))

    // RFC 8707: the MCP server's canonical URI went with the authorization request, the token request and the refresh.
    const lastAuthorization = [...provider.authorizationRequests].reverse().find((request) => request.redirect_uri === fourth.redirectUri)!
    assert.equal(lastAuthorization.resource, provider.url)
    const clientId = (await envValues(cwd)).get('MCP_CLIENT_ID')
    const codeGrant = [...provider.tokenRequests].reverse().find((request) => request.grant_type === 'authorization_code' && request.client_id === clientId)!
    assert.equal(codeGrant.resource, provider.url)
    const refreshed = await runCli(['refresh-tokens', '--force'], {cwd})
    assert.equal(refreshed.code, 0, refreshed.stderr)
    const refreshGrant = [...provider.tokenRequests].reverse().find((request) => request.grant_type === 'refresh_token' && request.client_id === clientId)!
    assert.equal(refreshGrant.resource, provider.url)
  })

  it('a client saved before its redirect URI was kept: the registration is read (RFC 7592 GET) and its port re-used', async () => {
    const cwd = await newDir([`MCP_SERVER_URL=${provider.url}`])
    const first = await browserSignIn(['mcp-client-token'], cwd, provider)
    assert.equal(first.result.code, 0, first.result.stderr)
    await setEnv(cwd, {MCP_CLIENT_REDIRECT_URI: null})
    const second = await browserSignIn(['mcp-client-token', '--force'], cwd, provider)
    assert.equal(second.result.code, 0, second.result.stderr)
    assert.equal(second.redirectUri, first.redirectUri)
    assert.equal(parseJson(second.result).client_redirect, 'reused')
    const clientId = (await envValues(cwd)).get('MCP_CLIENT_ID')
    assert.ok(provider.registrationRequests.some((request) => request.method === 'GET' && request.clientId === clientId))
    assert.equal((await envValues(cwd)).get('MCP_CLIENT_REDIRECT_URI'), first.redirectUri, 'what was read is saved')
  })

  it('a client the server no longer knows is replaced by a new registration, and says so', async () => {
    const cwd = await newDir([`MCP_SERVER_URL=${provider.url}`])
    assert.equal((await browserSignIn(['mcp-client-token'], cwd, provider)).result.code, 0)
    const old = await envValues(cwd)
    await setEnv(cwd, {MCP_CLIENT_REDIRECT_URI: null, MCP_CLIENT_REGISTRATION_TOKEN: 'no-longer-valid-registration-token'})
    const again = await browserSignIn(['mcp-client-token', '--force'], cwd, provider)
    assert.equal(again.result.code, 0, again.result.stderr)
    const report = parseJson(again.result)
    assert.deepEqual([report.client_redirect, report.client_registered], ['replaced', true])
    const now = await envValues(cwd)
    assert.notEqual(now.get('MCP_CLIENT_ID'), old.get('MCP_CLIENT_ID'))
    assert.notEqual(now.get('MCP_CLIENT_REGISTRATION_TOKEN'), 'no-longer-valid-registration-token')
    assert.match(
      again.result.stderr,
      new RegExp(`the server no longer knows client ${old.get('MCP_CLIENT_ID')} .*registered a new client ${now.get('MCP_CLIENT_ID')}`, 'i'),
    )
  })

  it('a redirect URI the client did not register is refused before the wait, not after --login-timeout (exit 4)', async () => {
    const cwd = await newDir([`MCP_SERVER_URL=${provider.url}`])
    assert.equal((await browserSignIn(['mcp-client-token'], cwd, provider)).result.code, 0)
    // .env says another port than the one registered: the peer refuses it, and mcpauth hears so at once.
    const blocker = await occupy(0)
    const freePort = (blocker.address() as {port: number}).port
    blocker.close()
    await setEnv(cwd, {MCP_CLIENT_REDIRECT_URI: `http://127.0.0.1:${freePort}/callback`})
    const started = Date.now()
    const cli = await startCli(['mcp-client-token', '--force', '--no-browser'], {cwd})
    const result = await cli.done
    assert.equal(result.code, 4, result.stderr)
    assert.ok(Date.now() - started < 20_000, 'it waited for a sign-in that could not come')
    assert.match(result.stderr, /refused the sign-in request before any browser was opened \(invalid_redirect_uri: Redirect URI not registered\)/)
    assert.doesNotMatch(result.stderr, /Open this URL/)
  })

  it("generate-github-token: the gateway's browser sign-in works a second and a third time with the saved client", async () => {
    const cwd = await newDir([`GATEWAY_AUTH_URL=${provider.url}`, 'GITHUB_PAT=ghp_0123456789abcdefghijABCDEFGHIJ0123456789'])
    const first = await browserSignIn(['generate-github-token'], cwd, provider)
    assert.equal(first.result.code, 0, first.result.stderr)
    const firstReport = parseJson(first.result)
    assert.deepEqual([firstReport.github.status, firstReport.gateway.flow, firstReport.gateway.client_redirect], ['kept', 'authorization_code', 'registered'])
    const saved = await envValues(cwd)
    assert.equal(saved.get('GATEWAY_OAUTH_REDIRECT_URI'), first.redirectUri)

    for (const attempt of ['second', 'third']) {
      await setEnv(cwd, {GATEWAY_OAUTH_ACCESS_TOKEN: null, GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT: null})
      const again = await browserSignIn(['generate-github-token'], cwd, provider)
      assert.equal(again.result.code, 0, `${attempt}: ${again.result.stderr}`)
      assert.equal(again.redirectUri, first.redirectUri, attempt)
      const report = parseJson(again.result)
      assert.deepEqual(
        [report.gateway.status, report.gateway.client_redirect, report.gateway.client_id],
        ['signed_in', 'reused', saved.get('GATEWAY_OAUTH_CLIENT_ID')],
      )
      assert.equal(await provider.isActiveAccessToken((await envValues(cwd)).get('GATEWAY_OAUTH_ACCESS_TOKEN')!), true)
    }
  })
})
