import {strict as assert} from 'node:assert'
import {readFile, writeFile} from 'node:fs/promises'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {signInThroughPages} from '../support/browser.js'
import {type CliResult, parseJson, startCli} from '../support/cli.js'
import {sendJson, startLoopbackServer} from '../support/loopback-http.js'
import {type TestOAuthProvider, startOAuthProvider} from '../support/oauth-provider.js'

const AUTHORIZATION_URL = /^(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m

async function envValues(cwd: string): Promise<Map<string, string>> {
  return parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values
}

function assertNoSecretPrinted(result: CliResult, values: Map<string, string>): void {
  for (const key of ['MCP_CLIENT_ACCESS_TOKEN', 'MCP_CLIENT_REFRESH_TOKEN', 'MCP_CLIENT_SECRET', 'MCP_CLIENT_REGISTRATION_TOKEN']) {
    const secret = values.get(key)
    if (!secret) continue
    assert.ok(!result.stdout.includes(secret), `${key} leaked on stdout`)
    assert.ok(!result.stderr.includes(secret), `${key} leaked on stderr`)
  }
}

describe('mcp-client-token OAuth sign-in', function () {
  this.timeout(30_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider({accessTokenTtl: 600})
  })
  after(async () => provider.close())

  async function newDir(lines: string[] = []): Promise<string> {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-oauth-'))
    await writeFile(join(cwd, '.env'), [`MCP_SERVER_URL=${provider.url}`, ...lines, ''].join('\n'), {mode: 0o600})
    return cwd
  }

  /** Runs the browser flow: the test plays the browser, and delivers the redirect to the loopback server (or pastes it). */
  async function browserSignIn(cwd: string, args: string[] = [], deliver: 'loopback' | 'paste' = 'loopback'): Promise<CliResult> {
    const cli = await startCli(['mcp-client-token', '--no-browser', '--json', ...args], {cwd})
    const [, authorizationUrl] = await cli.waitForStderr(AUTHORIZATION_URL)
    const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri')!
    const redirected = await signInThroughPages(authorizationUrl, {stopAt: redirectUri})
    if (deliver === 'paste') cli.write(`${redirected}\n`)
    else assert.equal((await fetch(redirected)).status, 200)
    cli.endInput()
    return cli.done
  }

  it('registers a client, catches the code on the loopback redirect, and saves every MCP_CLIENT_* key without printing one', async () => {
    const cwd = await newDir(['# kept comment', 'OTHER=kept'])
    const result = await browserSignIn(cwd)
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.equal(report.status, 'signed_in')
    assert.equal(report.flow, 'authorization_code')
    assert.equal(report.client_registered, true)
    assert.equal(report.has_refresh_token, true)
    const values = await envValues(cwd)
    for (const key of [
      'MCP_CLIENT_ACCESS_TOKEN',
      'MCP_CLIENT_REFRESH_TOKEN',
      'MCP_CLIENT_ID',
      'MCP_CLIENT_SECRET',
      'MCP_CLIENT_REGISTRATION_TOKEN',
      'MCP_CLIENT_REGISTRATION_URI',
    ]) {
      assert.ok(values.get(key), `${key} was not saved`)
    }
    assert.equal(report.client_id, values.get('MCP_CLIENT_ID'))
    const expiresAt = Number(values.get('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT'))
    assert.ok(Math.abs(expiresAt - (Date.now() / 1000 + 600)) < 30, `opaque token expiry ${expiresAt}`)
    assert.equal(await provider.isActiveAccessToken(values.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
    assert.match(await readFile(join(cwd, '.env'), 'utf8'), /^# kept comment\nOTHER=kept\n/m)
    assertNoSecretPrinted(result, values)
  })

  it('keeps a still-valid token, and with --force signs in again re-using the registered client through a pasted redirect URL', async () => {
    const cwd = await newDir()
    assert.equal((await browserSignIn(cwd)).code, 0)
    const first = await envValues(cwd)

    const kept = await startCli(['mcp-client-token', '--json'], {cwd})
    kept.endInput()
    const keptResult = await kept.done
    assert.equal(keptResult.code, 0, keptResult.stderr)
    assert.equal(parseJson(keptResult).status, 'kept')
    assert.match(keptResult.stderr, /Kept the MCP_CLIENT_ACCESS_TOKEN .* --force signs in again/)

    const again = await browserSignIn(cwd, ['--force'], 'paste')
    assert.equal(again.code, 0, again.stderr)
    assert.equal(parseJson(again).client_registered, false)
    const second = await envValues(cwd)
    assert.equal(second.get('MCP_CLIENT_ID'), first.get('MCP_CLIENT_ID'))
    assert.notEqual(second.get('MCP_CLIENT_ACCESS_TOKEN'), first.get('MCP_CLIENT_ACCESS_TOKEN'))
    assert.equal(await provider.isActiveAccessToken(second.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
  })

  it('refuses a redirect with a different state (exit 4), keeping the registration it made but no token', async () => {
    const cwd = await newDir()
    const cli = await startCli(['mcp-client-token', '--no-browser'], {cwd})
    const [, authorizationUrl] = await cli.waitForStderr(AUTHORIZATION_URL)
    const redirected = new URL(await signInThroughPages(authorizationUrl, {stopAt: new URL(authorizationUrl).searchParams.get('redirect_uri')!}))
    redirected.searchParams.set('state', 'forged-state')
    await fetch(redirected)
    cli.endInput()
    const result = await cli.done
    assert.equal(result.code, 4)
    assert.match(result.stderr, /^Error: The redirect came back with a different state than was sent: refused/m)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
    const values = await envValues(cwd)
    assert.ok(values.get('MCP_CLIENT_ID'), 'the registration obtained before the failure was not saved')
    assert.equal(values.get('MCP_CLIENT_ACCESS_TOKEN'), undefined)
  })

  it('signs in with the device flow approved elsewhere, finding the auth server through protected resource metadata', async () => {
    const mcpServer = await startLoopbackServer((request, response) => {
      if (request.url === '/.well-known/oauth-protected-resource/mcp')
        return sendJson(response, 200, {resource: 'http://127.0.0.1/mcp', authorization_servers: [provider.url]})
      sendJson(response, 404, {detail: 'Not Found'})
    })
    try {
      const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-oauth-'))
      const cli = await startCli(['mcp-client-token', '--device', '--server-url', `${mcpServer.url}/mcp`, '--json'], {cwd})
      cli.endInput()
      const [, userCode] = await cli.waitForStderr(/enter the code (\S+?)[ .]/)
      await provider.approveDevice(userCode)
      const result = await cli.done
      assert.equal(result.code, 0, result.stderr)
      assert.equal(parseJson(result).flow, 'device')
      const values = await envValues(cwd)
      assert.equal(await provider.isActiveAccessToken(values.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
      assert.ok(values.get('MCP_CLIENT_REFRESH_TOKEN'))
      assert.equal(values.get('MCP_SERVER_URL'), `${mcpServer.url}/mcp`, 'refresh-tokens needs the server URL again')
      assertNoSecretPrinted(result, values)
    } finally {
      await mcpServer.close()
    }
  })

  it('says plainly when the device sign-in is denied (exit 4) and saves no token', async () => {
    const cwd = await newDir()
    const cli = await startCli(['mcp-client-token', '--device'], {cwd})
    cli.endInput()
    const [, userCode] = await cli.waitForStderr(/enter the code (\S+?)[ .]/)
    await provider.approveDevice(userCode, {deny: true})
    const result = await cli.done
    assert.equal(result.code, 4, result.stderr)
    assert.match(result.stderr, /^Error: The sign-in was denied at the authorization server\.$/m)
    assert.equal((await envValues(cwd)).get('MCP_CLIENT_ACCESS_TOKEN'), undefined)
  })
})
