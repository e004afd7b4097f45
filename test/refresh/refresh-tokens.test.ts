import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {parseJson, runCli} from '../support/cli.js'
import {sendJson, startLoopbackServer} from '../support/loopback-http.js'
import {type TestOAuthProvider, mcpClientLoginLines, startOAuthProvider} from '../support/oauth-provider.js'

async function envDirWith(lines: string[]): Promise<string> {
  const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-refresh-'))
  await writeFile(join(cwd, '.env'), [...lines, ''].join('\n'), {mode: 0o600})
  return cwd
}

const readEnv = async (cwd: string): Promise<string> => readFile(join(cwd, '.env'), 'utf8')
const envValues = async (cwd: string): Promise<Map<string, string>> => parseEnvText(await readEnv(cwd)).values

/** An access token due for refresh: its saved expiry is a minute away. */
function dueSoon(lines: string[]): string[] {
  return lines.map((line) =>
    line.startsWith('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=') ? `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${Math.floor(Date.now() / 1000) + 60}` : line,
  )
}

function fakeJwt(claims: Record<string, unknown>): string {
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${segment({alg: 'RS256', typ: 'JWT'})}.${segment(claims)}.c2lnbmF0dXJl`
}

describe('refresh-tokens', function () {
  this.timeout(60_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider({accessTokenTtl: 600})
  })
  after(async () => provider.close())

  it('refreshes a due MCP client token, saving the rotated refresh token in the same write, and prints no token', async () => {
    const cwd = await envDirWith(['# comment kept', ...dueSoon(await mcpClientLoginLines(provider))])
    const before = await envValues(cwd)
    const grantsBefore = provider.refreshGrants
    const result = await runCli(['refresh-tokens', '--json'], {cwd})
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.deepEqual(Object.keys(report), ['env_file', 'tokens_dirs', 'buffer_seconds', 'refreshed', 'failed', 'incomplete', 'registry', 'tokens'])
    assert.equal(report.buffer_seconds, 3600)
    assert.deepEqual(
      report.tokens.map((token: any) => [token.name, token.status, token.refresh_token_rotated]),
      [['MCP_CLIENT_ACCESS_TOKEN', 'refreshed', true]],
    )
    assert.equal(provider.refreshGrants, grantsBefore + 1)
    const after = await envValues(cwd)
    assert.notEqual(after.get('MCP_CLIENT_ACCESS_TOKEN'), before.get('MCP_CLIENT_ACCESS_TOKEN'))
    assert.notEqual(after.get('MCP_CLIENT_REFRESH_TOKEN'), before.get('MCP_CLIENT_REFRESH_TOKEN'))
    assert.ok(Number(after.get('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT')) > Date.now() / 1000 + 500)
    assert.equal(await provider.isActiveAccessToken(after.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
    assert.match(await readEnv(cwd), /^# comment kept\n/)
    for (const value of [...before.values(), ...after.values()].filter((value) => value.length > 20 && !value.startsWith('http'))) {
      assert.ok(!result.stdout.includes(value) && !result.stderr.includes(value), 'a token or secret was printed')
    }
  })

  it('leaves a token that is not due alone, and refreshes it with --force', async () => {
    const cwd = await envDirWith(await mcpClientLoginLines(provider))
    const grantsBefore = provider.refreshGrants
    const idle = await runCli(['refresh-tokens', '--buffer', '5m'], {cwd})
    assert.equal(idle.code, 0, idle.stderr)
    assert.match(idle.stdout, /MCP_CLIENT_ACCESS_TOKEN\s+│\s+still valid/)
    assert.equal(provider.refreshGrants, grantsBefore)
    const forced = parseJson(await runCli(['refresh-tokens', '--force', '--json'], {cwd}))
    assert.equal(forced.tokens[0].status, 'refreshed')
    assert.equal(provider.refreshGrants, grantsBefore + 1)
  })

  it('reports a spent refresh token as a needed login with the command to run (exit 4), .env unchanged', async () => {
    const lines = dueSoon(await mcpClientLoginLines(provider))
    const cwd = await envDirWith(lines)
    assert.equal((await runCli(['refresh-tokens'], {cwd})).code, 0)
    // Put the refresh token that was just spent back, as a restored backup or a lost write would.
    await writeFile(join(cwd, '.env'), [...lines, ''].join('\n'))
    const spent = await readEnv(cwd)
    const result = await runCli(['refresh-tokens'], {cwd})
    assert.equal(result.code, 4, result.stderr)
    assert.match(
      result.stderr,
      /^Error: MCP_CLIENT_ACCESS_TOKEN: MCP_CLIENT_REFRESH_TOKEN was refused \(invalid_grant\): .*a new login is needed\.\nHint: run mcpauth mcp-client-token --force\n$/,
    )
    assert.equal(await readEnv(cwd), spent)
    const json = await runCli(['refresh-tokens', '--json'], {cwd})
    assert.equal(json.code, 4)
    assert.deepEqual((({status, login_command}) => ({status, login_command}))(parseJson(json).tokens[0]), {
      status: 'failed',
      login_command: 'mcpauth mcp-client-token --force',
    })
  })

  describe('against a gateway that answers "refresh_token": null', () => {
    it('keeps the saved refresh token (never writes null) and drops the stale expiry of a JWT access token', async () => {
      const exp = Math.floor(Date.now() / 1000) + 86_400
      const gateway = await startLoopbackServer((request, response) => {
        if (request.url === '/.well-known/oauth-authorization-server')
          return sendJson(response, 200, {issuer: gateway.url, token_endpoint: `${gateway.url}/token`})
        if (request.url === '/token')
          return sendJson(response, 200, {access_token: fakeJwt({exp, jti: 'j1'}), token_type: 'Bearer', expires_in: 86_400, refresh_token: null})
        sendJson(response, 404, {detail: 'Not Found'})
      })
      try {
        const cwd = await envDirWith([
          `GATEWAY_AUTH_URL=${gateway.url}`,
          'GATEWAY_OAUTH_CLIENT_ID=client_a',
          'GATEWAY_OAUTH_CLIENT_SECRET=s3cret-value-of-client',
          'GATEWAY_OAUTH_ACCESS_TOKEN=old-opaque-token-value',
          `GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT=${Math.floor(Date.now() / 1000) - 10}`,
          'GATEWAY_OAUTH_REFRESH_TOKEN=the-gateway-refresh-token-43-chars-long-xyz',
        ])
        const result = await runCli(['refresh-tokens', '--json'], {cwd})
        assert.equal(result.code, 0, result.stderr)
        assert.equal(parseJson(result).tokens[0].refresh_token_rotated, false)
        const text = await readEnv(cwd)
        assert.match(text, /^GATEWAY_OAUTH_REFRESH_TOKEN=the-gateway-refresh-token-43-chars-long-xyz$/m)
        assert.doesNotMatch(text, /=(None|null)$/m)
        assert.doesNotMatch(text, /GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT/)
        assert.equal(parseJson(result).tokens[0].expires_at, new Date(exp * 1000).toISOString())
      } finally {
        await gateway.close()
      }
    })
  })
})
