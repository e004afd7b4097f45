import type {Settings} from '../env/settings.js'
import {unreachableError, usageError} from '../errors.js'
import {type OAuthHttpOptions, requestOAuth, stringField} from './http.js'
import {safeForTerminal} from '../output.js'
import {isLoopbackHost, isSecureOrLoopback, requireSecureUrl} from './network.js'

/** What mcpauth needs to know of an authorization server (RFC 8414). */
export interface AuthServerMetadata {
  issuer: string
  authorization_endpoint?: string
  token_endpoint: string
  registration_endpoint?: string
  device_authorization_endpoint?: string
  scopes_supported?: string[]
  grant_types_supported?: string[]
}

const METADATA_PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']

/** The gateway's own auth server: GATEWAY_AUTH_URL, else https://auth.${BASE_DOMAIN}. */
export function gatewayAuthServerUrl(settings: Settings): string {
  const explicit = settings.get('GATEWAY_AUTH_URL')
  if (explicit) return explicit
  const baseDomain = settings.get('BASE_DOMAIN')
  if (!baseDomain) {
    throw usageError(
      "Cannot tell where the gateway's auth server is: neither GATEWAY_AUTH_URL nor BASE_DOMAIN is set.",
      'Set BASE_DOMAIN in .env (the auth server is then https://auth.$BASE_DOMAIN), or GATEWAY_AUTH_URL.',
    )
  }
  return `https://auth.${baseDomain}`
}

/**
 * RFC 8414 metadata of the server at `baseUrl`, trying the OAuth path first
 * and OpenID Connect's second (with the issuer's path appended or inserted).
 */
export async function discoverAuthServer(baseUrl: string, http: OAuthHttpOptions = {}): Promise<AuthServerMetadata> {
  const base = requireSecureUrl(baseUrl, 'The auth server URL')
  const path = base.pathname.replace(/\/+$/, '')
  const candidates = METADATA_PATHS.flatMap((wellKnown) =>
    path ? [`${base.origin}${wellKnown}${path}`, `${base.origin}${path}${wellKnown}`] : [`${base.origin}${wellKnown}`],
  )
  for (const candidate of candidates) {
    const answer = await requestOAuth(candidate, {}, http)
    if (answer.status === 404 || answer.status === 405) continue
    const tokenEndpoint = stringField(answer.body, 'token_endpoint')
    if (answer.status !== 200 || !tokenEndpoint) {
      throw unreachableError(
        `${candidate} is not OAuth server metadata (HTTP ${answer.status}${tokenEndpoint ? '' : ', no token_endpoint'}).`,
        'Check the auth server URL.',
      )
    }
    return checkedMetadata(candidate, base, answer.body)
  }
  throw unreachableError(
    `${base.origin} publishes no OAuth metadata (${METADATA_PATHS.join(' or ')} answered 404).`,
    'Check the auth server URL (GATEWAY_AUTH_URL, BASE_DOMAIN or --server-url).',
  )
}

/** The endpoints of a metadata document: a person's browser is sent to the first, secrets to the others. */
const ENDPOINT_FIELDS = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'device_authorization_endpoint'] as const

/**
 * A metadata document mcpauth may act on. Its `issuer` must be the URL it was
 * fetched for (RFC 8414 §3.3, OpenID Connect Discovery §4.3): a server
 * answering with another's identity is how an OAuth mix-up attack starts.
 * Every endpoint must be https (plain http only on loopback): a `file:` or
 * `javascript:` authorization endpoint never reaches the browser, a
 * plain-http token endpoint never sees a code or a secret.
 */
function checkedMetadata(candidate: string, base: URL, body: Record<string, unknown>): AuthServerMetadata {
  const issuer = stringField(body, 'issuer')
  const refused = (problem: string, hint: string) => unreachableError(`${candidate} ${problem}: refused.`, hint)
  if (!issuer) throw refused('names no issuer (RFC 8414 requires one)', 'Check the auth server URL: it should be the issuer of the OAuth server.')
  if (!sameIssuer(issuer, base)) {
    throw refused(
      `is the metadata of the issuer "${safeForTerminal(issuer)}", not of ${base.href.replace(/\/$/, '')} (RFC 8414 §3.3, a possible mix-up attack)`,
      'Use the issuer itself as the auth server URL (GATEWAY_AUTH_URL, --issuer) if you trust it, or an MCP server URL that names its auth server in /.well-known/oauth-protected-resource.',
    )
  }
  for (const field of ENDPOINT_FIELDS) {
    const value = body[field]
    if (value === undefined || value === null) continue
    if (typeof value !== 'string' || !isSecureOrLoopback(value)) {
      throw refused(
        `names ${field.startsWith('a') ? 'an' : 'a'} ${field} that is not an https URL (${safeForTerminal(typeof value === 'string' ? value : JSON.stringify(value), {limit: 80})})`,
        'mcpauth opens and sends secrets only to https URLs (plain http on loopback): check the OAuth server.',
      )
    }
  }
  return {...(body as unknown as AuthServerMetadata), issuer}
}

/** The issuer as the metadata states it and the URL it was fetched for, equal up to a trailing slash and the case of scheme and host. */
function sameIssuer(issuer: string, base: URL): boolean {
  try {
    const stated = new URL(issuer)
    const trim = (url: URL) => url.href.replace(/\/+$/, '')
    return stated.search === '' && stated.hash === '' && trim(stated) === trim(base)
  } catch {
    return false
  }
}

/**
 * The auth server protecting an MCP server: named by its protected resource
 * metadata (RFC 9728) when it publishes one, else the MCP server's own origin
 * (older MCP servers, and the gateway, which serves both). A server that
 * publishes the metadata names the resource to ask a token for (RFC 8707).
 */
export async function findMcpAuthServer(mcpServerUrl: string, http: OAuthHttpOptions = {}): Promise<{authServerUrl: string; resource?: string}> {
  const server = requireSecureUrl(mcpServerUrl, 'The MCP server URL')
  const path = server.pathname.replace(/\/+$/, '')
  const candidates = [
    ...(path ? [`${server.origin}/.well-known/oauth-protected-resource${path}`] : []),
    `${server.origin}/.well-known/oauth-protected-resource`,
  ]
  for (const candidate of candidates) {
    const answer = await requestOAuth(candidate, {}, http)
    if (answer.status !== 200) continue
    const servers = answer.body.authorization_servers
    if (Array.isArray(servers) && typeof servers[0] === 'string') {
      if (!isSecureOrLoopback(servers[0])) {
        throw unreachableError(
          `${candidate} names an authorization server that is not an https URL (${safeForTerminal(servers[0], {limit: 80})}): refused.`,
          'mcpauth signs in only at https URLs (plain http on loopback): check the MCP server.',
        )
      }
      return {authServerUrl: servers[0], resource: stringField(answer.body, 'resource') ?? mcpServerUrl}
    }
  }
  return {authServerUrl: (await siblingIssuer(server, http)) ?? server.origin}
}

/**
 * An MCP server without protected resource metadata: the gateway routes each
 * MCP host's /.well-known/oauth-authorization-server to its auth service,
 * whose issuer is https://auth.DOMAIN, not the MCP host. Such an issuer is
 * followed, as an `authorization_servers` entry would be, when it lives beside
 * the MCP server (same parent domain, or both on loopback); discoverAuthServer
 * then checks the issuer's own metadata strictly. Any other issuer is left to
 * that check, which refuses it as a possible mix-up.
 */
async function siblingIssuer(server: URL, http: OAuthHttpOptions): Promise<string | undefined> {
  const answer = await requestOAuth(`${server.origin}${METADATA_PATHS[0]}`, {}, http).catch(() => undefined)
  const issuer = answer?.status === 200 ? stringField(answer.body, 'issuer') : undefined
  if (!issuer || !isSecureOrLoopback(issuer) || sameIssuer(issuer, new URL(server.origin))) return undefined
  const issuerUrl = new URL(issuer)
  if (issuerUrl.search !== '' || issuerUrl.hash !== '') return undefined
  return livesBeside(issuerUrl.hostname, server.hostname) ? issuer : undefined
}

/** auth.example.com beside mcp-fetch.example.com; two loopback hosts; never two bare domains under one public suffix (a.com, b.com). */
export function livesBeside(issuerHost: string, serverHost: string): boolean {
  if (isLoopbackHost(issuerHost) && isLoopbackHost(serverHost)) return true
  const parent = (host: string): string | undefined => {
    if (/^[\d.]+$/.test(host) || host.includes(':') || host.includes('[')) return undefined
    const labels = host.toLowerCase().replace(/\.$/, '').split('.')
    return labels.length >= 3 ? labels.slice(1).join('.') : undefined
  }
  const issuerParent = parent(issuerHost)
  return issuerParent !== undefined && issuerParent === parent(serverHost)
}
