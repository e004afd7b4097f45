import {McpAuthError, ExitCode, unreachableError} from '../errors.js'
import {safeForTerminal} from '../output.js'
import {DEFAULT_TIMEOUT_MS, describeFetchFailure, isSecureOrLoopback, requireSecureUrl} from './network.js'

/**
 * HTTP for the OAuth flows: every request has a timeout, every URL is https
 * (or loopback), answers are JSON or form-encoded (GitHub without an Accept
 * header), and whatever else a server sends (an HTML login page, a 502 from a
 * proxy, truncated JSON, a redirect loop) becomes one line and exit 4.
 */

export interface OAuthHttpOptions {
  timeoutMs?: number
}

export interface OAuthRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** Sent as application/x-www-form-urlencoded, as token endpoints expect. */
  form?: Record<string, string | undefined>
  /** Sent as application/json, as registration endpoints expect. */
  json?: unknown
  bearer?: string
}

/** A parsed answer; 4xx answers are returned too, since OAuth errors come as 400/401 with a JSON body. */
export interface OAuthAnswer {
  status: number
  body: Record<string, unknown>
}

const MAX_REDIRECTS = 5
/** OAuth answers are a few kilobytes; a server sending more than this is not answering OAuth, and is not read to the end. */
const MAX_BODY_BYTES = 1024 * 1024

export async function requestOAuth(url: URL | string, request: OAuthRequest, options: OAuthHttpOptions = {}): Promise<OAuthAnswer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let target = typeof url === 'string' ? requireSecureUrl(url, 'OAuth server URL') : requireSecureUrl(url.href, 'OAuth server URL')
  const init = buildInit(request)
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let response: Response
    try {
      response = await fetch(target, {...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs)})
    } catch (error) {
      throw describeFetchFailure(target, error, timeoutMs)
    }
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel()
      // Only a GET may follow a redirect: re-posting a code or a refresh token elsewhere would spend or leak it.
      if (init.method !== 'GET')
        throw unreachableError(
          `${describe(target)} answered a redirect (HTTP ${response.status}) to a POST.`,
          'Check the server URL: it should name the OAuth server itself.',
        )
      target = redirectTarget(target, location)
      continue
    }
    return {status: response.status, body: await parseBody(target, response, timeoutMs)}
  }
  throw unreachableError(`${describe(target)} redirected more than ${MAX_REDIRECTS} times.`, 'Check the server URL.')
}

/** The OAuth `error` of an answer, if it has one (GitHub sends it with HTTP 200). */
export function oauthError(answer: OAuthAnswer): {error: string; description?: string} | undefined {
  const {error, error_description: description} = answer.body
  if (typeof error !== 'string') return undefined
  return {error, description: typeof description === 'string' ? description : undefined}
}

/** A failed OAuth answer as an exit-4 error naming what was asked and what came back. */
export function oauthFailure(what: string, answer: OAuthAnswer, hint?: string): McpAuthError {
  const problem = oauthError(answer)
  // The server's words are escaped and capped here, where they enter a message: a message may be quoted
  // again in a note or a log line that keeps its own line breaks, and must never gain one from a server.
  const detail = problem
    ? `${safeForTerminal(problem.error, {limit: 100})}${problem.description ? `: ${safeForTerminal(problem.description, {limit: 500})}` : ''}`
    : `HTTP ${answer.status}`
  return new McpAuthError(`${what} failed (${detail}).`, {code: problem?.error ?? 'oauth_failed', exitCode: ExitCode.unreachable, hint})
}

export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/

/**
 * A credential from a server's answer (a token, a client id or secret):
 * one with a control character (CR, LF, NUL, ESC, any C0 or C1) is refused
 * before anything keeps it, since it would break or forge a line of `.env`,
 * an HTTP header or a client config. RFC 6749 allows printable ASCII only.
 */
export function credentialField(body: Record<string, unknown>, name: string, from: string): string | undefined {
  const value = stringField(body, name)
  if (value !== undefined && CONTROL_CHARACTERS.test(value)) {
    throw unreachableError(
      `${from} answered a ${name} with control characters (a line break, NUL or escape): refused, nothing was saved.`,
      'The server is broken or hostile: check its URL and software.',
    )
  }
  return value
}

/**
 * A URL from a server's answer that mcpauth will send a secret to later (the
 * RFC 7592 registration_client_uri gets the registration token): https, or
 * plain http on loopback, and a credential's rules besides; else refused.
 */
export function secretUrlField(body: Record<string, unknown>, name: string, from: string): string | undefined {
  const value = credentialField(body, name, from)
  if (value !== undefined && !isSecureOrLoopback(value)) {
    throw unreachableError(
      `${from} answered a ${name} that is not an https URL (${safeForTerminal(value, {limit: 80})}): refused, nothing was saved.`,
      'mcpauth sends secrets only to https URLs (plain http on loopback): check the OAuth server.',
    )
  }
  return value
}

/** A lifetime in seconds (expires_in) that can be added to now: 0 to 100 years; anything else (1e300, -1) is unknown. */
export function lifetimeField(body: Record<string, unknown>, name: string): number | undefined {
  const value = numberField(body, name)
  return value !== undefined && value >= 0 && value <= MAX_LIFETIME_SECONDS ? value : undefined
}

const MAX_LIFETIME_SECONDS = 100 * 365 * 86_400

export function numberField(body: Record<string, unknown>, name: string): number | undefined {
  const value = typeof body[name] === 'string' ? Number(body[name]) : body[name]
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function buildInit(request: OAuthRequest): RequestInit & {method: string} {
  const headers: Record<string, string> = {Accept: 'application/json', 'User-Agent': 'mcpauth'}
  if (request.bearer) headers.Authorization = `Bearer ${request.bearer}`
  let body: string | undefined
  if (request.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded'
    const entries = Object.entries(request.form).filter((entry): entry is [string, string] => entry[1] !== undefined)
    body = new URLSearchParams(entries).toString()
  } else if (request.json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(request.json)
  }
  return {method: request.method ?? (body === undefined ? 'GET' : 'POST'), headers, body}
}

/** The server chose where to send us, so a redirect it should not make (plain http, a broken URL) is its failure: exit 4. */
function redirectTarget(from: URL, location: string): URL {
  try {
    return requireSecureUrl(new URL(location, from).href, `The redirect from ${from.origin}`)
  } catch (error) {
    const reason = error instanceof McpAuthError ? error.message : `${describe(from)} redirected to a URL that cannot be read.`
    throw unreachableError(reason, 'mcpauth does not follow it: check the server URL.')
  }
}

async function parseBody(url: URL, response: Response, timeoutMs: number): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readLimitedText(url, response)
  } catch (error) {
    if (error instanceof McpAuthError) throw error
    throw describeFetchFailure(url, error, timeoutMs)
  }
  if (response.status >= 500) {
    throw unreachableError(
      `${describe(url)} answered HTTP ${response.status} (a server error).`,
      'The OAuth server is failing: try again later or check its logs.',
    )
  }
  if (response.status === 204 || text.trim() === '') return {}
  // A missing well-known document is an answer (try the next one), whatever its body looks like.
  const notFound = response.status === 404 || response.status === 405
  if (notFound && !looksLikeJsonObject(text)) return {}
  const type = response.headers.get('content-type') ?? ''
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text))
  if (type.includes('text/html') || /^\s*</.test(text)) {
    throw unreachableError(
      `${describe(url)} answered an HTML page (HTTP ${response.status}) instead of JSON.`,
      'Check the URL: it should name the OAuth server, not a login page or a proxy.',
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw unreachableError(`${describe(url)} answered something that is not JSON (HTTP ${response.status}).`, 'Check the URL and the server.')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw unreachableError(`${describe(url)} answered JSON that is not an object (HTTP ${response.status}).`, 'Check the URL and the server.')
  }
  return parsed as Record<string, unknown>
}

/** The body as text, given up on (and the connection dropped) past MAX_BODY_BYTES. */
async function readLimitedText(url: URL, response: Response): Promise<string> {
  const tooLarge = () =>
    unreachableError(
      `${describe(url)} answered more than ${MAX_BODY_BYTES / 1024 / 1024} MB (HTTP ${response.status}); that is no OAuth answer.`,
      'Check the URL: it should name the OAuth server.',
    )
  if (Number(response.headers.get('content-length')) > MAX_BODY_BYTES) {
    await response.body?.cancel()
    throw tooLarge()
  }
  if (!response.body) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    // Leaving the loop cancels the stream, which closes the connection.
    if (size > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

function looksLikeJsonObject(text: string): boolean {
  try {
    const parsed = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
  } catch {
    return false
  }
}

function describe(url: URL): string {
  return `${url.origin}${url.pathname}`
}
