import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {createInterface} from 'node:readline'

import {McpAuthError, ExitCode} from '../errors.js'
import {type ClientCredentials, type TokenSet, requestToken} from './client.js'
import type {AuthServerMetadata} from './discovery.js'
import {formatDuration, safeForTerminal} from '../output.js'
import type {OAuthHttpOptions} from './http.js'
import {DEFAULT_TIMEOUT_MS, describeFetchFailure, isSecureOrLoopback, requireSecureUrl} from './network.js'

/**
 * Authorization code with PKCE S256 (RFC 7636) and a loopback redirect
 * (RFC 8252 §7.3): a one-shot HTTP server on 127.0.0.1 catches the code. On a
 * machine whose browser cannot reach that server (SSH, a container), the
 * operator pastes the redirected URL, or just the code, on stdin instead.
 */

export interface LoopbackReceiver {
  redirectUri: string
  /** The query of the first request to /callback. */
  callback: Promise<URLSearchParams>
  close(): Promise<void>
}

export interface AuthorizationCodeOptions {
  metadata: AuthServerMetadata
  client: ClientCredentials
  receiver: LoopbackReceiver
  scope?: string
  /** RFC 8707 resource indicator: the MCP server the token is for. */
  resource?: string
  openBrowser: boolean
  /** Where a pasted redirect URL or code is read from, when the loopback redirect cannot arrive. */
  pasted?: PastedInput
  notify: (message: string) => void
  loginTimeoutMs: number
  http?: OAuthHttpOptions
}

/** Where a loopback receiver listens; a random free port on 127.0.0.1 at /callback by default. */
export interface LoopbackAddress {
  host: string
  port: number
  path: string
}

/**
 * A one-shot HTTP server catching the redirect. Given an address (a saved
 * client's registered redirect URI), it listens exactly there, or answers
 * undefined when that port is taken.
 */
export async function startLoopbackReceiver(): Promise<LoopbackReceiver>
export async function startLoopbackReceiver(at: LoopbackAddress): Promise<LoopbackReceiver | undefined>
export async function startLoopbackReceiver(at?: LoopbackAddress): Promise<LoopbackReceiver | undefined> {
  const path = at?.path ?? '/callback'
  const host = at?.host ?? '127.0.0.1'
  let deliver!: (query: URLSearchParams) => void
  const callback = new Promise<URLSearchParams>((resolve) => (deliver = resolve))
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== path) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, {'Content-Type': 'text/html; charset=utf-8'})
    response.end(
      '<!doctype html><title>mcpauth</title><p>mcpauth received the answer of the authorization server. You can close this tab and return to the terminal.</p>',
    )
    deliver(url.searchParams)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(at?.port ?? 0, host.replace(/^\[(.*)\]$/, '$1'), resolve)
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (at && (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')) return undefined
    throw error
  }
  const {port} = server.address() as AddressInfo
  return {
    redirectUri: `http://${host}:${port}${path}`,
    callback,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The address of a loopback http redirect URI (RFC 8252 §7.3), or undefined for any other URI. */
export function loopbackAddress(redirectUri: string): LoopbackAddress | undefined {
  let url: URL
  try {
    url = new URL(redirectUri)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) || !url.port || url.search || url.hash) return undefined
  return {host: url.hostname, port: Number(url.port), path: url.pathname}
}

export async function runAuthorizationCodeFlow(options: AuthorizationCodeOptions): Promise<TokenSet> {
  const {metadata, client, receiver} = options
  if (!metadata.authorization_endpoint) {
    throw new McpAuthError(`${metadata.issuer} has no authorization_endpoint.`, {
      code: 'no_authorization_endpoint',
      exitCode: ExitCode.unreachable,
      hint: 'Try the device flow with --device.',
    })
  }
  // Discovery refuses these already; checked again here, where a URL is handed to the browser opener.
  if (!isSecureOrLoopback(metadata.authorization_endpoint)) {
    throw new McpAuthError(`${metadata.issuer} names an authorization_endpoint that is not an https URL: refused.`, {
      code: 'insecure_endpoint',
      exitCode: ExitCode.unreachable,
      hint: 'mcpauth opens only https URLs (plain http on loopback): check the OAuth server.',
    })
  }
  const verifier = randomBytes(32).toString('base64url')
  const state = randomBytes(16).toString('base64url')
  const authorizationUrl = new URL(metadata.authorization_endpoint)
  const query: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: receiver.redirectUri,
    scope: options.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: options.resource,
    // OpenID servers only issue a refresh token for offline_access after an explicit consent.
    prompt: options.scope?.split(' ').includes('offline_access') ? 'consent' : undefined,
  }
  for (const [name, value] of Object.entries(query)) if (value !== undefined) authorizationUrl.searchParams.set(name, value)

  // A server that refuses the request (a redirect URI it does not know, an unknown client) says so now, not after --login-timeout.
  await checkAuthorizationRequest(authorizationUrl, options.http)
  options.notify(`Open this URL to sign in:\n${authorizationUrl.href}`)
  if (options.openBrowser) openInBrowser(authorizationUrl.href)
  options.notify(
    `Waiting up to ${formatDuration(options.loginTimeoutMs / 1000)} for the sign-in to come back to ${receiver.redirectUri}${options.pasted ? ' (or paste the URL the browser was redirected to, or the code, and press Enter)' : ''}; Ctrl-C stops.`,
  )

  let answer: URLSearchParams
  try {
    answer = await firstAnswer(receiver, options.pasted, options.loginTimeoutMs)
  } finally {
    options.pasted?.stop()
  }
  // Only a bare pasted code comes without a state; any redirect must carry the one sent.
  if (!pastedBareCode.has(answer) && answer.get('state') !== state) {
    throw new McpAuthError('The redirect came back with a different state than was sent: refused (possible cross-site request forgery).', {
      code: 'state_mismatch',
      exitCode: ExitCode.unreachable,
      hint: 'Run the command again and finish the sign-in in the browser it opens.',
    })
  }
  const error = answer.get('error')
  if (error) {
    const description = answer.get('error_description')
    // Query parameters of a redirect anyone can craft: escaped where they enter the message.
    const said = `${safeForTerminal(error, {limit: 100})}${description ? `: ${safeForTerminal(description, {limit: 500})}` : ''}`
    throw new McpAuthError(`The authorization server refused the sign-in (${said}).`, {
      code: error,
      exitCode: ExitCode.unreachable,
    })
  }
  const code = answer.get('code')
  if (!code)
    throw new McpAuthError('The redirect carried no code.', {
      code: 'no_code',
      exitCode: ExitCode.unreachable,
      hint: 'Paste the whole URL the browser was redirected to.',
    })
  return requestToken(
    metadata.token_endpoint,
    client,
    {
      grant_type: 'authorization_code',
      code,
      redirect_uri: receiver.redirectUri,
      code_verifier: verifier,
      // RFC 8707 §2.2: the token request names the resource again.
      ...(options.resource ? {resource: options.resource} : {}),
    },
    options.http,
  )
}

/**
 * Asks the authorization endpoint the request the browser will make, without
 * following it. A server that refuses it outright (400 or 401 with an OAuth
 * error, as the gateway answers an unregistered redirect URI) or cannot be
 * reached fails the sign-in at once. Anything else (a login page, a redirect
 * to one, a 404 from a server that only serves browsers) is left to the browser.
 */
async function checkAuthorizationRequest(url: URL, http: OAuthHttpOptions = {}): Promise<void> {
  const timeoutMs = http.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const target = requireSecureUrl(url.href, 'The authorization endpoint')
  let response: Response
  try {
    response = await fetch(target, {redirect: 'manual', headers: {Accept: 'application/json', 'User-Agent': 'mcpauth'}, signal: AbortSignal.timeout(timeoutMs)})
  } catch (error) {
    throw describeFetchFailure(target, error, timeoutMs)
  }
  if (response.status !== 400 && response.status !== 401) {
    await response.body?.cancel()
    return
  }
  const text = await response.text().catch(() => '')
  let body: {error?: unknown; error_description?: unknown; detail?: {error?: unknown; error_description?: unknown}} = {}
  try {
    body = JSON.parse(text.slice(0, 65_536))
  } catch {
    return
  }
  // FastAPI (the gateway) puts the OAuth error under "detail".
  const problem = typeof body?.error === 'string' ? body : typeof body?.detail?.error === 'string' ? body.detail : undefined
  if (!problem) return
  const error = String(problem.error)
  const description = typeof problem.error_description === 'string' ? problem.error_description : undefined
  throw new McpAuthError(
    `The authorization server refused the sign-in request before any browser was opened (${safeForTerminal(error, {limit: 100})}${description ? `: ${safeForTerminal(description, {limit: 500})}` : ''}).`,
    {
      code: error,
      exitCode: ExitCode.unreachable,
      hint:
        error === 'invalid_redirect_uri' || error === 'redirect_uri_mismatch'
          ? `The client is not registered with ${url.searchParams.get('redirect_uri')}.`
          : 'Check the client saved in .env and the server URL.',
    },
  )
}

/** Where a browser can be opened: macOS, Windows, and Linux with a display. */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY)
}

/** Reads pasted lines from stdin, as the headless fallback of the browser flow. */
export interface PastedInput {
  /** The first line that is not empty; undefined at end of input. */
  read(): Promise<string | undefined>
  /** Stops reading, so a pending read does not keep the process alive once the redirect arrived. */
  stop(): void
}

export function pastedInput(input: NodeJS.ReadableStream & {destroy?: () => void} = process.stdin): PastedInput {
  let lines: ReturnType<typeof createInterface> | undefined
  return {
    read: () =>
      new Promise((resolve) => {
        lines = createInterface({input, terminal: false})
        lines.on('line', (line) => {
          if (line.trim() === '') return
          resolve(line.trim())
          lines?.close()
        })
        lines.on('close', () => resolve(undefined))
      }),
    stop: () => {
      lines?.close()
      input.destroy?.()
    },
  }
}

async function firstAnswer(receiver: LoopbackReceiver, pasted: PastedInput | undefined, timeoutMs: number): Promise<URLSearchParams> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new McpAuthError(`No sign-in within ${Math.round(timeoutMs / 1000)}s.`, {
            code: 'login_timeout',
            exitCode: ExitCode.unreachable,
            hint: 'Run the command again; use --no-browser to paste the redirect URL on a machine without a browser.',
          }),
        ),
      timeoutMs,
    )
  })
  // End of input is not an answer: the loopback redirect may still arrive.
  const pastedAnswer = pasted
    ? pasted.read().then((text) => (text === undefined ? new Promise<never>(() => {}) : parsePasted(text)))
    : new Promise<never>(() => {})
  try {
    return await Promise.race([receiver.callback, pastedAnswer, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const pastedBareCode = new WeakSet<URLSearchParams>()

/** A whole redirect URL, its query string, or the bare code. */
function parsePasted(text: string): URLSearchParams {
  if (/^https?:\/\//.test(text)) return new URL(text).searchParams
  if (text.includes('code=') || text.includes('error=')) return new URLSearchParams(text.replace(/^[^?]*\?/, ''))
  const params = new URLSearchParams({code: text})
  pastedBareCode.add(params)
  return params
}

function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]]
  try {
    const child = spawn(command, args, {stdio: 'ignore', detached: true})
    child.on('error', () => {})
    child.unref()
  } catch {
    // The URL is on stderr already; a missing opener is not a failure.
  }
}
