import {strict as assert} from 'node:assert'
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {parseEnvText} from '../../src/env/env-file.js'
import type {CliResult} from '../support/cli.js'
import {mcpWorkspace, tokenLines} from '../support/mcp-workspace.js'
import {type TestOAuthProvider, mcpClientLoginLines, startOAuthProvider} from '../support/oauth-provider.js'

/** The saved expiry a minute away: due under the default one-hour buffer. */
const dueSoon = (lines: string[]): string[] =>
  lines.map((line) =>
    line.startsWith('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=') ? `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${Math.floor(Date.now() / 1000) + 60}` : line,
  )

const savedValues = async (cwd: string) => parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values

/** stdout must be exactly one line of JSON: a header object with one string value. */
function bearerFrom(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stdout, /^\{"Authorization":"Bearer [^"\s]+"\}\n$/)
  return (JSON.parse(result.stdout) as {Authorization: string}).Authorization.slice('Bearer '.length)
}

function assertFailedQuietly(result: CliResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, result.stderr)
  assert.equal(result.stdout, '', 'something reached stdout on failure')
  assert.match(result.stderr, message)
  assert.doesNotMatch(result.stderr, /\n\s+at /)
}

describe('mcp-headers', function () {
  this.timeout(90_000)
  let provider: TestOAuthProvider

  // Tokens live two hours, so a fresh one is not due under the default one-hour buffer.
  before(async () => {
    provider = await startOAuthProvider({accessTokenTtl: 7200})
  })
  after(async () => provider.close())

  it('prints the saved token as {"Authorization": "Bearer …"} without refreshing a token that is not due', async () => {
    const lines = await mcpClientLoginLines(provider)
    const ws = await mcpWorkspace(lines)
    const grantsBefore = provider.refreshGrants
    const token = bearerFrom(await ws.run(['mcp-headers']))
    assert.equal(token, (await savedValues(ws.cwd)).get('MCP_CLIENT_ACCESS_TOKEN'))
    assert.equal(await provider.isActiveAccessToken(token), true)
    assert.equal(provider.refreshGrants, grantsBefore)
  })

  it('refreshes a due token exactly once, even for five clients at once, and all of them get the new token', async () => {
    const ws = await mcpWorkspace(dueSoon(await mcpClientLoginLines(provider)))
    const oldToken = (await savedValues(ws.cwd)).get('MCP_CLIENT_ACCESS_TOKEN')
    const grantsBefore = provider.refreshGrants
    const results = await Promise.all(Array.from({length: 5}, () => ws.run(['mcp-headers'])))
    const tokens = new Set(results.map(bearerFrom))
    assert.equal(provider.refreshGrants - grantsBefore, 1)
    assert.equal(tokens.size, 1, 'the clients got different tokens')
    const [token] = tokens
    assert.notEqual(token, oldToken)
    assert.equal(token, (await savedValues(ws.cwd)).get('MCP_CLIENT_ACCESS_TOKEN'))
    assert.equal(await provider.isActiveAccessToken(token), true)
    assert.equal(bearerFrom(await ws.run(['mcp-headers'])), token)
    assert.equal(provider.refreshGrants - grantsBefore, 1)
  })

  it('runs as the headersHelper mcp-config --helper wrote, from any directory', async () => {
    const ws = await mcpWorkspace(dueSoon(await mcpClientLoginLines(provider)))
    assert.equal((await ws.run(['mcp-config', '--client', 'claude-code', '--helper', '--server', `gateway=${provider.url}/mcp`])).code, 0)
    const helper = (await ws.readJson('.mcp.json')).mcpServers.gateway.headersHelper as string
    // As Claude Code runs it: a shell command, from elsewhere, with none of the gateway's settings in the environment.
    const elsewhere = await mkdtemp(join(tmpdir(), 'mcpauth-elsewhere-'))
    const {stdout} = await promisify(execFile)('/bin/sh', ['-c', helper], {cwd: elsewhere, env: {PATH: '/usr/bin:/bin', HOME: ws.home}})
    const token = bearerFrom({code: 0, stdout, stderr: ''})
    assert.equal(await provider.isActiveAccessToken(token), true)
    assert.equal(token, (await savedValues(ws.cwd)).get('MCP_CLIENT_ACCESS_TOKEN'), 'the due token was not refreshed into .env')
  })

  it('after a refresh puts the new token into the config files mcp-config wrote with the old one', async () => {
    const ws = await mcpWorkspace(dueSoon(await mcpClientLoginLines(provider)))
    assert.equal((await ws.run(['mcp-config', '--client', 'cursor'])).code, 0)
    const before = (await ws.readJson('.cursor/mcp.json')).mcpServers.gateway.headers.Authorization
    const token = bearerFrom(await ws.run(['mcp-headers']))
    const after = (await ws.readJson('.cursor/mcp.json')).mcpServers.gateway.headers.Authorization
    assert.notEqual(after, before)
    assert.equal(after, `Bearer ${token}`)
  })

  it('uses a still-valid token with a warning when the refresh is refused, and fails (exit 4) once it has expired', async () => {
    const lines = dueSoon(await mcpClientLoginLines(provider))
    const ws = await mcpWorkspace(lines)
    bearerFrom(await ws.run(['mcp-headers']))
    // The refresh token just spent comes back, as after restoring an old .env: the server refuses it.
    await writeFile(join(ws.cwd, '.env'), `${lines.join('\n')}\n`)
    const stale = await ws.run(['mcp-headers'])
    assert.equal(bearerFrom(stale), (await savedValues(ws.cwd)).get('MCP_CLIENT_ACCESS_TOKEN'))
    assert.match(stale.stderr, /^Warning: could not refresh MCP_CLIENT_ACCESS_TOKEN \(MCP_CLIENT_REFRESH_TOKEN was refused \(invalid_grant\)/)

    const expired = lines.map((line) => (line.startsWith('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=') ? 'MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=1000' : line))
    await writeFile(join(ws.cwd, '.env'), `${expired.join('\n')}\n`)
    assertFailedQuietly(
      await ws.run(['mcp-headers']),
      4,
      /^Error: MCP_CLIENT_ACCESS_TOKEN expired and could not be refreshed: .*invalid_grant.*\nHint: Run mcpauth mcp-client-token --force\n$/,
    )
  })

  describe('writes nothing on stdout when it fails', () => {
    it('no .env (exit 4)', async () => {
      const ws = await mcpWorkspace([])
      assertFailedQuietly(await ws.run(['mcp-headers', '--env-file', join(ws.cwd, 'missing.env')]), 4, /^Error: Cannot read .*missing\.env: no such file\./)
    })

    it('no token (exit 4), naming mcp-client-token', async () => {
      const ws = await mcpWorkspace(['BASE_DOMAIN=example.com'])
      assertFailedQuietly(
        await ws.run(['mcp-headers']),
        4,
        /^Error: There is no MCP_CLIENT_ACCESS_TOKEN in \.env or the environment\.\nHint: Run mcpauth mcp-client-token first/,
      )
    })

    it('an expired token and no refresh token (exit 4)', async () => {
      const ws = await mcpWorkspace(tokenLines('expired-opaque-token-0123456789', -60))
      assertFailedQuietly(
        await ws.run(['mcp-headers']),
        4,
        /^Error: MCP_CLIENT_ACCESS_TOKEN in \.env expired at .* and there is no MCP_CLIENT_REFRESH_TOKEN to refresh it\./,
      )
    })

    it('--json, which it does not take (exit 2): its output is always the header object', async () => {
      const ws = await mcpWorkspace(tokenLines('valid-opaque-token-0123456789'))
      assertFailedQuietly(await ws.run(['mcp-headers', '--json']), 2, /Nonexistent flag: --json/)
    })
  })
})
