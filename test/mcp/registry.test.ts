import {strict as assert} from 'node:assert'
import {mkdir, readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'

import {parseJson, runCli, startCli} from '../support/cli.js'
import {type LoginsPlace, egressDocument, loginsPlace, writeEgressFile} from '../support/logins.js'
import {type TestOAuthProvider, signedInLogin, startOAuthProvider} from '../support/oauth-provider.js'

const GATEWAY = 'https://gateway.example.com'

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(200)
  }
}

/** The registry's servers folder, as the registry keeps it (registry/servers/*.json). */
async function writeRegistry(place: LoginsPlace): Promise<string> {
  const folder = join(place.cwd, 'registry', 'servers')
  await mkdir(folder, {recursive: true})
  const server = (name: string, document: unknown) => writeFile(join(folder, name), JSON.stringify(document, null, 2))
  await server('sre.json', {server_name: 'SRE Gateway', path: '/sre', auth_type: 'oauth', supported_transports: ['streamable-http'], tags: ['ops']})
  await server('currenttime.json', {server_name: 'Current Time', path: '/currenttime/', auth_type: 'none', supported_transports: ['sse', 'streamable-http']})
  await server('mcpgw.json', {server_name: 'MCP Gateway Tools', path: '/mcpgw', auth_type: 'none', proxy_pass_url: 'http://mcpgw-server:8003/'})
  await server('jira.json', {server_name: 'Jira', path: '/jira', auth_type: 'oauth', supported_transports: ['streamable-http']})
  await server('server_state.json', {sre: true, currenttime: true})
  await writeFile(join(folder, 'broken.json'), '{"path": ')
  return join(place.cwd, 'registry')
}

describe("the registry's layout, refreshed and configured end to end", function () {
  this.timeout(120_000)
  /** Keycloak-like: rotating single-use refresh tokens. */
  let keycloak: TestOAuthProvider
  /** Google-like: no refresh token in the answer. */
  let google: TestOAuthProvider
  /** No expires_in, JWT access tokens for the resource asked. */
  let atlassian: TestOAuthProvider

  before(async () => {
    keycloak = await startOAuthProvider({accessTokenTtl: 600})
    google = await startOAuthProvider({accessTokenTtl: 600, rotateRefreshToken: false, refreshAnswerOmits: ['refresh_token']})
    atlassian = await startOAuthProvider({accessTokenTtl: 900, refreshAnswerOmits: ['expires_in'], resourceIndicators: {jwt: true}})
  })
  after(async () => {
    for (const provider of [keycloak, google, atlassian]) await provider.close()
  })

  async function registryUser(): Promise<{place: LoginsPlace; registry: string}> {
    const sre = await signedInLogin(keycloak)
    const docs = await signedInLogin(google)
    const resource = `${GATEWAY}/atlassian/mcp`
    const jira = await signedInLogin(atlassian, {resource})
    const place = await loginsPlace([
      `REGISTRY_URL=${GATEWAY}`,
      `SRE_SECRET=${sre.client.client_secret}`,
      `DOCS_SECRET=${docs.client.client_secret}`,
      `ATL_SECRET=${jira.client.client_secret}`,
    ])
    await writeEgressFile(place, 'keycloak-sre-egress.json', egressDocument('keycloak', sre, 'SRE_SECRET'))
    await writeEgressFile(place, 'google-docs-egress.json', egressDocument('google', docs, 'DOCS_SECRET'))
    await writeEgressFile(place, 'atlassian-egress.json', {...egressDocument('atlassian', jira, 'ATL_SECRET'), resource})
    return {place, registry: await writeRegistry(place)}
  }

  const bearer = (token: string) => ({Authorization: `Bearer ${token}`})

  it("refreshes every token file and writes the registry's mcp.json and vscode_mcp.json, no-auth servers without a header", async () => {
    const {place, registry} = await registryUser()
    const result = await runCli(['refresh-tokens', '--force', '--tokens-dir', place.tokensDir, '--registry', registry, '--gateway-url', GATEWAY, '--json'], {
      cwd: place.cwd,
    })
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    assert.deepEqual(
      report.tokens.map((token: any) => [token.name, token.status]),
      [
        ['atlassian-egress.json', 'refreshed'],
        ['google-docs-egress.json', 'refreshed'],
        ['keycloak-sre-egress.json', 'refreshed'],
      ],
    )
    assert.deepEqual(report.registry.servers, ['currenttime', 'mcpgw', 'sre', 'atlassian', 'docs'])
    assert.deepEqual(report.registry.warnings, [
      'broken.json: not valid JSON; left out',
      'jira.json: the server jira needs a login and none is named jira; left out (sign in with mcp-client-token --name jira)',
    ])
    const token = async (file: string) => (await place.readTokenFile(file)).access_token as string
    const sre = await token('keycloak-sre-egress.json')
    const docs = await token('google-docs-egress.json')
    const jira = await token('atlassian-egress.json')
    assert.equal(await keycloak.isActiveAccessToken(sre), true)

    const roo = await place.readTokenFile('mcp.json')
    assert.deepEqual(roo, {
      mcpServers: {
        currenttime: {type: 'sse', url: `${GATEWAY}/currenttime/mcp`, disabled: false, alwaysAllow: []},
        mcpgw: {type: 'streamable-http', url: `${GATEWAY}/mcpgw/mcp`, disabled: false, alwaysAllow: []},
        sre: {type: 'streamable-http', url: `${GATEWAY}/sre/mcp`, headers: bearer(sre), disabled: false, alwaysAllow: []},
        atlassian: {type: 'streamable-http', url: `${GATEWAY}/atlassian/mcp`, headers: bearer(jira), disabled: false, alwaysAllow: []},
        docs: {type: 'streamable-http', url: `${GATEWAY}/docs/mcp`, headers: bearer(docs), disabled: false, alwaysAllow: []},
      },
    })
    assert.deepEqual(await place.readTokenFile('vscode_mcp.json'), {
      mcp: {
        servers: {
          currenttime: {type: 'sse', url: `${GATEWAY}/currenttime/mcp`},
          mcpgw: {type: 'http', url: `${GATEWAY}/mcpgw/mcp`},
          sre: {type: 'http', url: `${GATEWAY}/sre/mcp`, headers: bearer(sre)},
          atlassian: {type: 'http', url: `${GATEWAY}/atlassian/mcp`, headers: bearer(jira)},
          docs: {type: 'http', url: `${GATEWAY}/docs/mcp`, headers: bearer(docs)},
        },
      },
    })
    for (const file of ['mcp.json', 'vscode_mcp.json']) assert.equal((await stat(join(place.tokensDir, file))).mode & 0o777, 0o600, file)
  })

  it('writes client configs with each server on its own login, and the daemon keeps them and the registry files current', async () => {
    const {place, registry} = await registryUser()
    const configured = await runCli(
      ['mcp-config', '--client', 'cursor', '--registry', registry, '--tokens-dir', place.tokensDir, '--format', 'registry', '--json'],
      {
        cwd: place.cwd,
      },
    )
    assert.equal(configured.code, 0, configured.stderr)
    assert.deepEqual(parseJson(configured).registry.servers, ['currenttime', 'mcpgw', 'sre', 'atlassian', 'docs'])
    const cursorPath = join(place.cwd, '.cursor', 'mcp.json')
    const cursor = async () => JSON.parse(await readFile(cursorPath, 'utf8')).mcpServers
    const sreToken = async () => (await place.readTokenFile('keycloak-sre-egress.json')).access_token as string
    const firstSre = await sreToken()
    assert.deepEqual((await cursor()).sre, {url: `${GATEWAY}/sre/mcp`, headers: bearer(firstSre)})
    assert.deepEqual((await cursor()).currenttime, {url: `${GATEWAY}/currenttime/mcp`})
    assert.deepEqual((await cursor()).docs.headers, bearer((await place.readTokenFile('google-docs-egress.json')).access_token))

    // The line a registry user puts where token_refresher.py was (REGISTRY_URL comes from .env).
    const daemon = await startCli(['refresh-tokens', '--watch', '--interval', '2', '--tokens-dir', '.oauth-tokens', '--registry', 'registry/servers'], {
      cwd: place.cwd,
    })
    try {
      await waitFor('a refresh of the SRE token, written into every config', async () => {
        const current = await sreToken()
        if (current === firstSre) return false
        const roo = await place.readTokenFile('mcp.json').catch(() => undefined)
        return roo?.mcpServers.sre.headers.Authorization === `Bearer ${current}` && (await cursor()).sre.headers.Authorization === `Bearer ${current}`
      })
    } finally {
      daemon.kill('SIGTERM')
    }
    const stopped = await daemon.done
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.match(stopped.stderr, /registry: jira\.json: the server jira needs a login/)
    assert.equal(stopped.stderr.match(/the server jira needs a login/g)?.length, 1, 'said once, not at every check')
    const docs = (await place.readTokenFile('google-docs-egress.json')).access_token
    assert.deepEqual((await cursor()).docs.headers, bearer(docs), 'each server keeps its own login')
  })

  it('writes a .env login by its own variable with --env-ref, and refuses what --env-ref and --helper cannot carry', async () => {
    const place = await loginsPlace([
      'ATLASSIAN_TOKEN_ENDPOINT=https://auth.atlassian.com/oauth/token',
      'ATLASSIAN_ACCESS_TOKEN=atlassian-access-token-value',
      'ATLASSIAN_REFRESH_TOKEN=atlassian-refresh-token-value',
    ])
    const folder = join(place.cwd, 'registry', 'servers')
    await mkdir(folder, {recursive: true})
    await writeFile(join(folder, 'atlassian.json'), JSON.stringify({server_name: 'Atlassian', path: '/atlassian', auth_type: 'oauth'}))
    const registry = ['--registry', join(place.cwd, 'registry'), '--gateway-url', GATEWAY]
    const envRef = await runCli(['mcp-config', '--client', 'vscode', '--env-ref', ...registry], {cwd: place.cwd})
    assert.equal(envRef.code, 0, envRef.stderr)
    const vscode = JSON.parse(await readFile(join(place.cwd, '.vscode', 'mcp.json'), 'utf8'))
    assert.deepEqual(vscode.servers.atlassian, {
      type: 'http',
      url: `${GATEWAY}/atlassian/mcp`,
      headers: {Authorization: 'Bearer ${env:ATLASSIAN_ACCESS_TOKEN}'},
    })

    const helper = await runCli(['mcp-config', '--client', 'claude-code', '--helper', ...registry], {cwd: place.cwd})
    assert.equal(helper.code, 2)
    assert.match(
      helper.stderr,
      /--helper runs mcp-headers, which serves the MCP client's login; these servers take the token of a login of their own: atlassian\./,
    )
    await writeEgressFile(place, 'google-docs-egress.json', {provider: 'google', access_token: 'google-access-token-value'})
    const inFile = await runCli(['mcp-config', '--client', 'cursor', '--env-ref', '--tokens-dir', place.tokensDir, ...registry], {cwd: place.cwd})
    assert.equal(inFile.code, 2)
    assert.match(inFile.stderr, /the tokens of these servers are in token files, not in \.env: docs\./)
    const nowhere = await runCli(['mcp-config', '--client', 'cursor', '--registry', join(place.cwd, 'registry')], {cwd: place.cwd})
    assert.equal(nowhere.code, 2)
    assert.match(nowhere.stderr, /Registry servers are reached through the gateway: say where it is\./)
  })
})
