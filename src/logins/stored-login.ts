import {decodeJwt, looksLikeJwt} from '../jwt/codec.js'
import {isPlausibleEpoch, toEpochSeconds} from '../time.js'
import type {ClientCredentials, TokenSet} from '../oauth/client.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import {canonicalResourceUri} from '../oauth/resource.js'

/**
 * A login as refreshing sees it, wherever it is kept (`.env` keys or a
 * token file): what it holds now, how to refresh it, and how to save the
 * answer. Reading takes no lock; saving is one read-modify-write under the
 * lock of the file it is kept in, and nothing else.
 */
export interface StoredLogin {
  /** mcpauth's name for it: gateway, mcp-client, github, or the name it was signed in under. */
  login: string
  /** What the operator knows it as: the access token's `.env` key, or the token file's name. */
  name: string
  /** The file it is kept in. */
  storedIn: string
  /** Held across this login's token exchange (and only this login's), so a single-use refresh token is spent once. */
  lockPath: string
  /** How messages name its refresh token: MCP_CLIENT_REFRESH_TOKEN, or the refresh_token of a file. */
  refreshTokenName: string
  /** What signs in again when the refresh token is no longer accepted. */
  loginCommand: string
  read(): Promise<LoginRecord>
  save(tokens: TokenSet, now: number): Promise<void>
}

export interface LoginRecord {
  accessToken?: string
  refreshToken?: string
  expiresAt: number | null
  /** How to refresh it, or what must be added before it can be. */
  recipe: RefreshRecipe | MissingForRefresh
}

export interface MissingForRefresh {
  /** What to add, said to the operator. */
  missing: string
  /** Signing in again would supply it (a refresh token, a client). */
  signInFixes?: boolean
}

export interface RefreshRecipe {
  client: ClientCredentials
  /** May ask the network (discovery); never called under a lock on shared state. */
  endpoint(http: OAuthHttpOptions): Promise<TokenEndpoint>
}

export interface TokenEndpoint {
  url: string
  /** RFC 8707: the MCP server the token is for, sent again on refresh. */
  resource?: string
}

/** Where a login's authorization server is, as kept with the login: the first one given is used. */
export interface ServerLocation {
  tokenEndpoint?: string
  issuer?: string
  mcpServerUrl?: string
  resource?: string
}

/** How to find the token endpoint from what is kept; undefined when nothing is. */
export function endpointFinder(location: ServerLocation): RefreshRecipe['endpoint'] | undefined {
  const {tokenEndpoint, issuer, mcpServerUrl, resource} = location
  if (tokenEndpoint) return async () => ({url: tokenEndpoint, resource})
  // Discovery (HTTP) loads when a refresh asks for the endpoint, not when a login is read.
  const discovery = () => import('../oauth/discovery.js')
  if (issuer) return async (http) => ({url: (await (await discovery()).discoverAuthServer(issuer, http)).token_endpoint, resource})
  if (mcpServerUrl) {
    return async (http) => {
      const {discoverAuthServer, findMcpAuthServer} = await discovery()
      const found = await findMcpAuthServer(mcpServerUrl, http)
      return {
        url: (await discoverAuthServer(found.authServerUrl, http)).token_endpoint,
        resource: resource ?? found.resource ?? canonicalResourceUri(mcpServerUrl),
      }
    }
  }
  return undefined
}

/** Latest expiry taken as a date (the year 9999); a later one (1e300) is as good as unknown. */
/** When a token answer's access token expires: its own `exp` when it is a JWT, else `expires_in`; null when neither says. */
export function accessTokenExpiry(tokens: TokenSet, now: number): number | null {
  return jwtExpiry(tokens.access_token) ?? (tokens.expires_in === undefined ? null : plausibleEpoch(now + Math.floor(tokens.expires_in)))
}

/** When a saved token expires: the expiry saved beside it (epoch seconds or ISO 8601), else its JWT `exp`; null when unknown. */
export function savedTokenExpiry(saved: unknown, accessToken: string | undefined): number | null {
  return plausibleEpoch(toEpochSeconds(saved)) ?? jwtExpiry(accessToken)
}

export function jwtExpiry(token: string | undefined): number | null {
  if (!token || !looksLikeJwt(token)) return null
  try {
    return plausibleEpoch(decodeJwt(token).claims.exp)
  } catch {
    return null
  }
}

function plausibleEpoch(value: unknown): number | null {
  return isPlausibleEpoch(value) ? Math.floor(value) : null
}
