import type {Settings} from '../env/settings.js'
import {unreachableError, usageError} from '../errors.js'
import {type OAuthHttpOptions, requestOAuth, stringField} from './http.js'
import {requireSecureUrl} from './network.js'

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
    return {...(answer.body as unknown as AuthServerMetadata), issuer: stringField(answer.body, 'issuer') ?? base.origin}
  }
  throw unreachableError(
    `${base.origin} publishes no OAuth metadata (${METADATA_PATHS.join(' or ')} answered 404).`,
    'Check the auth server URL (GATEWAY_AUTH_URL, BASE_DOMAIN or --server-url).',
  )
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
    if (Array.isArray(servers) && typeof servers[0] === 'string')
      return {authServerUrl: servers[0], resource: stringField(answer.body, 'resource') ?? mcpServerUrl}
  }
  return {authServerUrl: server.origin}
}
