import {describeNetworkCode, unreachableError, usageError} from '../errors.js'

/** Every request mcpauth makes gives up after this long unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 10_000

/**
 * Parses a URL that mcpauth will send tokens or trust keys from: it must be
 * https, except on loopback where tests and local gateways run plain http.
 */
export function requireSecureUrl(text: string, what: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw usageError(`${what} is not a valid URL: "${text}".`)
  }
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url
  throw usageError(`${what} must use https (plain http is only allowed on loopback), not ${url.origin}.`)
}

/** Whether mcpauth may open or send secrets to this URL: https, or plain http on loopback. */
export function isSecureOrLoopback(text: string): boolean {
  try {
    requireSecureUrl(text, 'URL')
    return true
  } catch {
    return false
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host)
}

/** `fetch` with a timeout; a network failure or timeout becomes an exit-4 error naming the server. */
export async function fetchWithTimeout(url: URL, init: RequestInit = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Response> {
  try {
    return await fetch(url, {...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs)})
  } catch (error) {
    throw describeFetchFailure(url, error, timeoutMs)
  }
}

export function describeFetchFailure(url: URL, error: unknown, timeoutMs: number): Error {
  const name = (error as Error)?.name
  if (name === 'TimeoutError' || name === 'AbortError') {
    return unreachableError(`No answer from ${url.origin} within ${timeoutMs / 1000}s.`, 'Check the URL and your network, then try again.', error)
  }
  const cause = (error as {cause?: {code?: string; message?: string}})?.cause
  // System codes (ECONNREFUSED, ENOTFOUND) say it best; fetch's own UND_ERR_* codes say less than their message.
  const code = cause?.code?.startsWith('UND_ERR') ? undefined : cause?.code
  const detail = code ? describeNetworkCode(code) : (cause?.message ?? (error as Error)?.message ?? String(error))
  return unreachableError(`Cannot reach ${url.origin}: ${detail}.`, 'Check the URL and your network, then try again.', error)
}
