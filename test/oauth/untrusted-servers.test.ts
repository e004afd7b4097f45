import {strict as assert} from 'node:assert'
import {chmod, mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'

import {parseEnvText} from '../../src/env/env-file.js'
import {runDeviceFlow} from '../../src/oauth/device.js'
import {livesBeside} from '../../src/oauth/discovery.js'
import {type CliResult, runCli, startCli} from '../support/cli.js'
import {startFakeGithub} from '../support/github-oauth-server.js'
import {sendJson, startLoopbackServer} from '../support/loopback-http.js'

/**
 * OAuth servers are untrusted: what they send is checked before mcpauth acts
 * on it (a URL opened or sent a secret, a poll interval, a token written to
 * .env) and escaped before a person reads it.
 */

const CLIENT_ID = 'Iv1.testclientid'
// biome-ignore lint/suspicious/noControlCharactersInRegex: a raw control character on the terminal is what must not happen
const RAW_CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/
const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/

async function envDir(lines: string[]): Promise<string> {
  const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-untrusted-'))
  await writeFile(join(cwd, '.env'), ['# untrusted server test', ...lines, ''].join('\n'), {mode: 0o600})
  return cwd
}

const readEnv = (cwd: string) => readFile(join(cwd, '.env'), 'utf8')

function assertOneCleanError(result: CliResult, pattern: RegExp): void {
  assert.equal(result.code, 4, `exit ${result.code}\n${result.stderr}`)
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('Error: '))
  assert.equal(errors.length, 1, result.stderr)
  assert.match(errors[0], pattern)
  assert.doesNotMatch(result.stderr, STACK_TRACE)
  assert.doesNotMatch(result.stderr, RAW_CONTROL, 'a raw control character reached the terminal')
}

describe('untrusted OAuth servers: device flow', function () {
  this.timeout(60_000)

  it('an interval of 0 is waited as the RFC default of 5 s, not polled in a tight loop', async () => {
    const github = await startFakeGithub({interval: 0, pendingPolls: 1_000_000})
    try {
      const cwd = await envDir([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
      const cli = await startCli(['generate-github-token', '--github-only'], {cwd})
      await cli.waitForStderr(/enter the code WDJB-MJHT/)
      await delay(3000)
      const polls = github.polls
      cli.kill('SIGKILL')
      await cli.done
      assert.equal(polls, 0, `${polls} polls within 3 s of an interval of 0`)
    } finally {
      await github.close()
    }
  })

  it('waits 5 s for an interval that is missing, 0, negative or not a number, at least 1 s, and adds 5 s on each slow_down', async () => {
    const cases: Array<[unknown, number]> = [
      [undefined, 5000],
      [0, 5000],
      [-3, 5000],
      ['soon', 5000],
      [0.2, 1000],
      [2, 2000],
    ]
    for (const [interval, expected] of cases) {
      const github = await startFakeGithub({deviceAnswer: {interval}, pendingPolls: 1, slowDownAtPoll: 2})
      try {
        const waits: number[] = []
        let clock = 0
        await runDeviceFlow({
          deviceEndpoint: `${github.url}/login/device/code`,
          tokenEndpoint: `${github.url}/login/oauth/access_token`,
          client: {client_id: CLIENT_ID},
          notify: () => {},
          now: () => clock,
          sleep: async (ms) => {
            waits.push(ms)
            clock += ms
          },
        })
        // Poll 1 pending; poll 2 slow_down, whose answer names interval 6: +5 s, or 6 s when that is longer; poll 3 the token.
        assert.deepEqual(waits, [expected, expected, Math.max(expected + 5000, 6000)], `interval ${JSON.stringify(interval)}`)
      } finally {
        await github.close()
      }
    }
  })

  for (const [field, value] of [
    ['verification_uri', 'javascript:alert(1)'],
    ['verification_uri', 'file:///etc/passwd'],
    ['verification_uri_complete', 'http://login.evil.example/device?code=WDJB'],
  ] as const) {
    it(`a ${field} of ${value} is refused (exit 4), never shown as a place to sign in`, async () => {
      const github = await startFakeGithub({deviceAnswer: {[field]: value}})
      try {
        const cwd = await envDir([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
        const before = await readEnv(cwd)
        const result = await runCli(['generate-github-token', '--github-only'], {cwd})
        assertOneCleanError(result, new RegExp(`answered a ${field} that is not an https URL`))
        assert.doesNotMatch(result.stderr, /To sign in, open/)
        assert.equal(github.polls, 0)
        assert.equal(await readEnv(cwd), before)
      } finally {
        await github.close()
      }
    })
  }

  it('a user code with an escape sequence and a line break is shown escaped, forging no line', async () => {
    const github = await startFakeGithub({deviceAnswer: {user_code: 'WDJB\u001B[2J\nError: forged line'}})
    try {
      const cwd = await envDir([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
      const result = await runCli(['generate-github-token', '--github-only'], {cwd})
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stderr, /enter the code WDJB\\x1B\[2J\\nError: forged line\./)
      assert.doesNotMatch(result.stderr, /^Error: forged line/m)
      assert.doesNotMatch(result.stderr, RAW_CONTROL)
    } finally {
      await github.close()
    }
  })

  for (const [field, value] of [
    ['access_token', 'ghu_line\r\nGATEWAY_JWT_SECRET=attacker'],
    ['access_token', 'ghu_nul\u0000byte'],
    ['refresh_token', 'ghr_escape\u001B]0;owned\u0007'],
    ['access_token', 'ghu_c1\u0085next-line'],
  ] as const) {
    it(`${field === 'access_token' ? 'an' : 'a'} ${field} with ${JSON.stringify(value.replace(/^gh[ur]_/, '')).slice(0, 30)} is refused when received and never written`, async () => {
      const github = await startFakeGithub({tokenAnswer: {[field]: value}})
      try {
        const cwd = await envDir([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
        const before = await readEnv(cwd)
        const result = await runCli(['generate-github-token', '--github-only'], {cwd})
        assertOneCleanError(result, new RegExp(`answered a ${field} with control characters .*refused, nothing was saved`))
        assert.equal(await readEnv(cwd), before)
      } finally {
        await github.close()
      }
    })
  }

  it('an expires_in of 1e300 is taken as unknown: the token is saved without an expiry, no crash', async () => {
    const github = await startFakeGithub({tokenAnswer: {expires_in: 1e300, refresh_token_expires_in: -5}})
    try {
      const cwd = await envDir([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
      const result = await runCli(['generate-github-token', '--github-only'], {cwd})
      assert.equal(result.code, 0, result.stderr)
      const values = parseEnvText(await readEnv(cwd)).values
      assert.match(values.get('GITHUB_PAT')!, /^ghu_/)
      assert.equal(values.get('GITHUB_PAT_EXPIRES_AT'), undefined)
      assert.equal(values.get('GITHUB_REFRESH_TOKEN_EXPIRES_AT'), undefined)
      const check = await runCli(['check-token-expiry'], {cwd})
      assert.doesNotMatch(check.stderr, /Unexpected error/)
    } finally {
      await github.close()
    }
  })
})

/** An OAuth server on loopback answering its own metadata with `metadata` (issuer and endpoints naming itself unless overridden). */
async function metadataServer(metadata: (origin: string) => Record<string, unknown>, extra?: (request: IncomingMessage, response: ServerResponse) => boolean) {
  return startLoopbackServer((request, response) => {
    const origin = `http://${request.headers.host}`
    if (extra?.(request, response)) return
    if (request.url === '/.well-known/oauth-authorization-server') return sendJson(response, 200, metadata(origin))
    sendJson(response, 404, {error: 'not_found'})
  })
}

describe('untrusted OAuth servers: URLs handed to a browser', function () {
  this.timeout(60_000)

  for (const endpoint of ['file:///etc/passwd', 'javascript:alert(1)']) {
    it(`an authorization_endpoint of ${endpoint} never reaches xdg-open`, async () => {
      let registered = 0
      const server = await metadataServer(
        (origin) => ({issuer: origin, authorization_endpoint: endpoint, token_endpoint: `${origin}/token`, registration_endpoint: `${origin}/register`}),
        (request, response) => {
          if (request.url !== '/register') return false
          registered++
          sendJson(response, 201, {client_id: 'client_untrusted', redirect_uris: []})
          return true
        },
      )
      try {
        const cwd = await envDir([`GATEWAY_AUTH_URL=${server.url}`])
        // A browser opener that only records what it was asked to open.
        const bin = join(cwd, 'bin')
        const opened = join(cwd, 'opened.txt')
        await mkdir(bin)
        await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\necho "$@" >> ${JSON.stringify(opened)}\n`)
        await chmod(join(bin, 'xdg-open'), 0o755)
        const result = await runCli(['mcp-client-token', '--login-timeout', '3s'], {
          cwd,
          env: {PATH: `${bin}:${process.env.PATH}`, DISPLAY: ':99'},
        })
        assertOneCleanError(result, /names an authorization_endpoint that is not an https URL/)
        await delay(300)
        const openedText = await readFile(opened, 'utf8').catch(() => '')
        assert.equal(openedText, '', 'the browser opener was called')
        assert.equal(registered, 0, 'nothing was registered at a server that failed its checks')
      } finally {
        await server.close()
      }
    })
  }

  for (const [field, value] of [
    ['registration_client_uri', 'http://register.evil.example/client/1'],
    ['client_id', 'client_a\nMCP_CLIENT_ACCESS_TOKEN=forged'],
    ['registration_access_token', 'token\u0000with-nul'],
  ] as const) {
    it(`a registration answering a ${field} of ${JSON.stringify(value)} is refused (exit 4), no client saved`, async () => {
      const server = await metadataServer(
        (origin) => ({
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          registration_endpoint: `${origin}/register`,
        }),
        (request, response) => {
          if (request.url !== '/register') return false
          sendJson(response, 201, {
            client_id: 'client_a',
            client_secret: 'secret-of-client-a',
            registration_access_token: 'rat-value',
            registration_client_uri: `http://${request.headers.host}/register/client_a`,
            [field]: value,
          })
          return true
        },
      )
      try {
        const cwd = await envDir([`GATEWAY_AUTH_URL=${server.url}`])
        const before = await readEnv(cwd)
        const result = await runCli(['mcp-client-token', '--no-browser', '--login-timeout', '3s'], {cwd})
        const problem = field === 'registration_client_uri' ? 'that is not an https URL' : 'with control characters'
        assertOneCleanError(result, new RegExp(`answered a ${field} ${problem}.*refused, nothing was saved`))
        assert.equal(await readEnv(cwd), before)
      } finally {
        await server.close()
      }
    })
  }

  it('a protected resource naming a javascript: authorization server is refused (exit 4)', async () => {
    const server = await startLoopbackServer((request, response) => {
      if (request.url?.startsWith('/.well-known/oauth-protected-resource'))
        return sendJson(response, 200, {resource: 'x', authorization_servers: ['javascript:alert(1)']})
      sendJson(response, 404, {})
    })
    try {
      const cwd = await envDir([])
      const result = await runCli(['mcp-client-token', '--server-url', `${server.url}/mcp`, '--no-browser', '--timeout', '2s'], {cwd})
      assertOneCleanError(result, /names an authorization server that is not an https URL \(javascript:alert\(1\)\): refused/)
    } finally {
      await server.close()
    }
  })
})

describe('untrusted OAuth servers: the daemon log', function () {
  this.timeout(60_000)

  it("a server's error_description with escapes and line breaks is escaped in the --watch log, forging no line", async () => {
    const server = await metadataServer(
      (origin) => ({issuer: origin, token_endpoint: `${origin}/token`}),
      (request, response) => {
        if (request.url !== '/token') return false
        sendJson(response, 400, {
          error: 'temporarily_unavailable',
          error_description: 'gone\u001B]0;owned\u0007\n2026-01-01T00:00:00.000Z INFO  refreshed everything',
        })
        return true
      },
    )
    try {
      const cwd = await envDir([
        `GATEWAY_AUTH_URL=${server.url}`,
        'GATEWAY_OAUTH_CLIENT_ID=client_a',
        'GATEWAY_OAUTH_ACCESS_TOKEN=opaque',
        'GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT=1',
        'GATEWAY_OAUTH_REFRESH_TOKEN=refresh-value',
      ])
      const daemon = await startCli(['refresh-tokens', '--watch', '--interval', '1', '--buffer', '2', '--timeout', '2s'], {cwd})
      await daemon.waitForStderr(/temporarily_unavailable/)
      daemon.kill('SIGTERM')
      const {stderr} = await daemon.done
      assert.match(stderr, /gone\\x1B\]0;owned\\x07\\n2026-01-01T00:00:00\.000Z INFO {2}refreshed everything/)
      assert.doesNotMatch(stderr, /^2026-01-01T00:00:00\.000Z INFO/m, 'a forged log line')
      assert.doesNotMatch(stderr, RAW_CONTROL)
    } finally {
      await server.close()
    }
  })
})

describe("untrusted OAuth servers: the gateway's layout", function () {
  this.timeout(60_000)

  it('takes an issuer as living beside an MCP host only under the same parent domain, or both on loopback', () => {
    assert.ok(livesBeside('auth.example.com', 'mcp-fetch.example.com'))
    assert.ok(livesBeside('AUTH.example.com', 'everything.example.com.'))
    assert.ok(livesBeside('127.0.0.1', 'localhost'))
    for (const [issuer, server] of [
      ['auth.evil.example', 'mcp.example.com'],
      ['evil.com', 'example.com'],
      ['auth.example.com', 'example.com'],
      ['10.0.0.2', '10.0.0.1'],
      ['auth.example.com', '127.0.0.1'],
    ]) {
      assert.ok(!livesBeside(issuer, server), `${issuer} beside ${server}`)
    }
  })

  it("follows the issuer an MCP host's metadata names when it lives beside it, and signs in there", async () => {
    const registeredAt: string[] = []
    const authServer = await metadataServer(
      (origin) => ({
        issuer: origin,
        authorization_endpoint: `${origin}/authorize`,
        token_endpoint: `${origin}/token`,
        registration_endpoint: `${origin}/register`,
      }),
      (request, response) => {
        if (request.url !== '/register') return false
        registeredAt.push('auth server')
        sendJson(response, 201, {client_id: 'client_beside', redirect_uris: ['http://127.0.0.1:1/callback']})
        return true
      },
    )
    // The MCP host publishes no protected resource metadata and answers its
    // well-known path with the auth server's metadata, as the gateway routes it.
    const mcpHost = await startLoopbackServer((request, response) => {
      if (request.url === '/.well-known/oauth-authorization-server') {
        return sendJson(response, 200, {
          issuer: authServer.url,
          authorization_endpoint: `${authServer.url}/authorize`,
          token_endpoint: `${authServer.url}/token`,
          registration_endpoint: `${authServer.url}/register`,
        })
      }
      if (request.url === '/register') registeredAt.push('MCP host')
      sendJson(response, 404, {error: 'not_found'})
    })
    try {
      const cwd = await envDir([])
      const result = await runCli(['mcp-client-token', '--server-url', `${mcpHost.url}/mcp`, '--no-browser', '--login-timeout', '2s'], {cwd})
      assert.deepEqual(registeredAt, ['auth server'], result.stderr)
      assert.doesNotMatch(result.stderr, /mix-up/)
    } finally {
      await Promise.all([authServer.close(), mcpHost.close()])
    }
  })
})
