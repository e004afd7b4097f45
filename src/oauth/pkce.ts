import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {createInterface} from 'node:readline'

import {McpAuthError, ExitCode} from '../errors.js'
import {type ClientCredentials, type TokenSet, requestToken} from './client.js'
import type {AuthServerMetadata} from './discovery.js'
import type {OAuthHttpOptions} from './http.js'
import {isSecureOrLoopback} from './network.js'

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

export async function startLoopbackReceiver(): Promise<LoopbackReceiver> {
  let deliver!: (query: URLSearchParams) => void
  const callback = new Promise<URLSearchParams>((resolve) => (deliver = resolve))
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== '/callback') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, {'Content-Type': 'text/html; charset=utf-8'})
    response.end(
      '<!doctype html><title>mcpauth</title><p>mcpauth received the answer of the authorization server. You can close this tab and return to the terminal.</p>',
    )
    deliver(url.searchParams)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port} = server.address() as AddressInfo
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    callback,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
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

  options.notify(`Open this URL to sign in:\n${authorizationUrl.href}`)
  if (options.openBrowser) openInBrowser(authorizationUrl.href)
  if (options.pasted) options.notify('Waiting for the browser... (or paste the URL it was redirected to, or the code, and press Enter)')

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
    throw new McpAuthError(`The authorization server refused the sign-in (${error}${description ? `: ${description}` : ''}).`, {
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
    {grant_type: 'authorization_code', code, redirect_uri: receiver.redirectUri, code_verifier: verifier},
    options.http,
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
