import {strict as assert} from 'node:assert'
import {readdirSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, parseJson, repoRoot, runCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {startLoopbackServer} from '../support/loopback-http.js'
import {freePort} from '../support/redis-server.js'

/**
 * One file per misbehaving OAuth server in test/fixtures/hostile/oauth/; each
 * is served on loopback and pointed at by every command that talks to an
 * OAuth server. Every one must end in one clear line, exit 4, no stack trace,
 * and the .env exactly as it was.
 */
interface HostileCase {
  case: string
  serve:
    | {status: number; headers?: Record<string, string>; body?: string; body_base64?: string}
    | {behaviour: 'hang' | 'close' | 'refuse' | 'redirect-loop'}
    | {behaviour: 'stream'; headers: Record<string, string>; megabytes: number}
  /** The error line, as a regular expression. */
  error: string
  /** The error line where the command's first request is a POST (GitHub's device code request), when it differs. */
  error_on_post?: string
}

const corpusDir = join(repoRoot, 'test', 'fixtures', 'hostile', 'oauth')
const TIMEOUT = ['--timeout', '2s']
const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/
// biome-ignore lint/suspicious/noControlCharactersInRegex: a raw control character on stderr is what must not happen
const RAW_CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/
// Read when the suite is defined, so that each case is a test of its own.
const CORPUS = readdirSync(corpusDir)
  .filter((file) => file.endsWith('.json'))
  .sort()

/** The commands that talk to an OAuth server, each set up so that its first request goes to the hostile server. */
const OAUTH_COMMANDS: Array<{command: string; firstRequest: 'GET' | 'POST'; env: (url: string) => string[]; args: string[]}> = [
  {command: 'mcp-client-token', firstRequest: 'GET', env: (url) => [`MCP_SERVER_URL=${url}/mcp`], args: ['--no-browser']},
  {
    command: 'generate-github-token',
    firstRequest: 'POST',
    env: (url) => [`GITHUB_BASE_URL=${url}`, 'GITHUB_CLIENT_ID=Iv1.hostilecase'],
    args: ['--github-only'],
  },
  {
    command: 'refresh-tokens',
    firstRequest: 'GET',
    env: (url) => [
      `GATEWAY_AUTH_URL=${url}`,
      'GATEWAY_OAUTH_CLIENT_ID=client_a',
      'GATEWAY_OAUTH_ACCESS_TOKEN=opaque',
      'GATEWAY_OAUTH_ACCESS_TOKEN_EXPIRES_AT=1',
      'GATEWAY_OAUTH_REFRESH_TOKEN=refresh-value',
    ],
    args: [],
  },
]

/** Serves one case on a loopback port; `refuse` is a free port nobody listens on. */
async function serveCase(hostile: HostileCase): Promise<{url: string; close: () => Promise<void>}> {
  const {serve} = hostile
  if ('behaviour' in serve && serve.behaviour === 'refuse') return {url: `http://127.0.0.1:${await freePort()}`, close: async () => {}}
  return startLoopbackServer((request, response) => answer(serve, request, response))
}

function answer(serve: HostileCase['serve'], request: IncomingMessage, response: ServerResponse): void {
  if (!('behaviour' in serve)) {
    // {{origin}} is the server's own origin, for metadata whose issuer and endpoints must name it.
    const text = (serve.body ?? '').replaceAll('{{origin}}', `http://${request.headers.host}`)
    const body = serve.body_base64 === undefined ? text : Buffer.from(serve.body_base64, 'base64')
    response.writeHead(serve.status, serve.headers).end(body)
    return
  }
  switch (serve.behaviour) {
    case 'hang':
      return
    case 'close':
      request.socket.destroy()
      return
    case 'redirect-loop':
      response.writeHead(302, {Location: request.url ?? '/'}).end()
      return
    case 'stream':
      void streamForever(response, serve.headers, serve.megabytes)
      return
    default:
      response.writeHead(500).end()
  }
}

/** Megabytes of text after an opening brace, as fast as the client reads them, until it hangs up. */
async function streamForever(response: ServerResponse, headers: Record<string, string>, megabytes: number): Promise<void> {
  response.writeHead(200, headers)
  response.write('{"issuer": "')
  const chunk = 'x'.repeat(64 * 1024)
  for (let sent = 0; sent < megabytes * 16 && !response.destroyed; sent++) {
    if (!response.write(chunk)) await drainedOrClosed(response)
  }
  response.end('"}')
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done)
      response.off('close', done)
      resolve()
    }
    response.on('drain', done)
    response.on('close', done)
  })
}

async function envDir(lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-oauth-'))
  await writeFile(join(dir, '.env'), ['# hostile OAuth server test', ...lines, ''].join('\n'), {mode: 0o600})
  return dir
}

function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.startsWith('Error: '))
}

describe('hostile OAuth servers (test/fixtures/hostile/oauth)', function () {
  this.timeout(60_000)
  const ctx = useRedis()

  it('has a case for each way a server can fail', () => {
    for (const wanted of [
      'html-login-page.json',
      'truncated-json.json',
      'endless-redirects.json',
      'no-answer.json',
      'connection-refused.json',
      'huge-body.json',
      'wrong-content-type.json',
      'untrusted-issuer-of-another-server.json',
      'untrusted-authorization-endpoint-javascript.json',
      'untrusted-token-endpoint-plain-http.json',
    ]) {
      assert.ok(CORPUS.includes(wanted), `${wanted} is missing from the corpus`)
    }
  })

  for (const file of CORPUS) {
    it(`${file}: one clear line, exit 4, no stack trace, .env unchanged, from every command that talks OAuth`, async () => {
      const hostile = JSON.parse(await readFile(join(corpusDir, file), 'utf8')) as HostileCase
      const server = await serveCase(hostile)
      try {
        const runs = OAUTH_COMMANDS.map(async ({command, firstRequest, env, args}) => {
          const dir = await envDir(env(server.url))
          const before = await readFile(join(dir, '.env'), 'utf8')
          const result = await runCli([command, ...args, ...TIMEOUT], {cwd: dir})
          const expected = new RegExp(firstRequest === 'POST' && hostile.error_on_post ? hostile.error_on_post : hostile.error)
          const what = `${command} against ${file} (${hostile.case})`
          assert.equal(result.code, 4, `${what}: exit ${result.code}\n${result.stderr}`)
          const lines = errorLines(result)
          assert.equal(lines.length, 1, `${what}: one error line\n${result.stderr}`)
          assert.match(lines[0], expected, what)
          assert.doesNotMatch(result.stderr, STACK_TRACE, what)
          assert.doesNotMatch(result.stderr, RAW_CONTROL, `${what}: a raw control character reached the terminal`)
          assert.equal(await readFile(join(dir, '.env'), 'utf8'), before, `${what}: .env changed`)
        })
        runs.push(doctorOnline(server.url, hostile, file))
        await Promise.all(runs)
      } finally {
        await server.close()
      }
    })
  }

  /** doctor --online reports the gateway's metadata as a failed check rather than one error line. */
  async function doctorOnline(url: string, hostile: HostileCase, file: string): Promise<void> {
    const dir = await envDir([`GATEWAY_AUTH_URL=${url}`])
    const before = await readFile(join(dir, '.env'), 'utf8')
    const result = await ctx.cli(['doctor', '--online', '--json', ...TIMEOUT], {cwd: dir})
    const what = `doctor --online against ${file}`
    assert.equal(result.code, 4, `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`)
    const metadata = parseJson(result).checks.find((check: {check: string}) => check.check === 'gateway metadata')
    assert.equal(metadata?.status, 'fail', `${what}: ${JSON.stringify(metadata)}`)
    assert.match(metadata.detail, new RegExp(hostile.error), what)
    assert.doesNotMatch(result.stderr, STACK_TRACE, what)
    assert.equal(await readFile(join(dir, '.env'), 'utf8'), before, `${what}: .env changed`)
  }
})
