import {type EnvUpdates, readEnvFile, updateEnvFile} from '../env/env-file.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {looksLikeJwt} from '../jwt/codec.js'
import type {ClientCredentials, TokenSet} from './client.js'
import type {ClientRedirect} from './client-redirect.js'
import type {AuthServerMetadata} from './discovery.js'
import type {OAuthHttpOptions} from './http.js'
import type {LoopbackReceiver, PastedInput} from './pkce.js'
import {EXPIRES_AT_SUFFIX} from '../jwt/expiry.js'

/**
 * A login against an OAuth server, saved in `.env` under one family of keys:
 * discovery, a registered client (re-used when `.env` has one), the device
 * flow or the browser flow, then the tokens. What is obtained is saved at
 * once, so a registration survives a sign-in that fails afterwards.
 */

/** The `.env` keys of one login; `loginCommand` is what an operator runs to log in again. */
export interface LoginKeys {
  label: string
  accessToken: string
  refreshToken: string
  clientId: string
  clientSecret: string
  registrationToken?: string
  registrationUri?: string
  /** The redirect URI the client is registered with: the gateway matches it exactly, port included. */
  redirectUri?: string
  loginCommand: string
}

export const MCP_CLIENT_LOGIN: LoginKeys = {
  label: 'MCP client',
  accessToken: 'MCP_CLIENT_ACCESS_TOKEN',
  refreshToken: 'MCP_CLIENT_REFRESH_TOKEN',
  clientId: 'MCP_CLIENT_ID',
  clientSecret: 'MCP_CLIENT_SECRET',
  registrationToken: 'MCP_CLIENT_REGISTRATION_TOKEN',
  registrationUri: 'MCP_CLIENT_REGISTRATION_URI',
  redirectUri: 'MCP_CLIENT_REDIRECT_URI',
  loginCommand: 'mcpauth mcp-client-token --force',
}

export const GATEWAY_LOGIN: LoginKeys = {
  label: 'gateway',
  accessToken: 'GATEWAY_OAUTH_ACCESS_TOKEN',
  refreshToken: 'GATEWAY_OAUTH_REFRESH_TOKEN',
  clientId: 'GATEWAY_OAUTH_CLIENT_ID',
  clientSecret: 'GATEWAY_OAUTH_CLIENT_SECRET',
  registrationToken: 'GATEWAY_OAUTH_REGISTRATION_TOKEN',
  registrationUri: 'GATEWAY_OAUTH_REGISTRATION_URI',
  redirectUri: 'GATEWAY_OAUTH_REDIRECT_URI',
  loginCommand: 'mcpauth generate-github-token --force',
}

export const GITHUB_LOGIN: LoginKeys = {
  label: 'GitHub',
  accessToken: 'GITHUB_PAT',
  refreshToken: 'GITHUB_REFRESH_TOKEN',
  clientId: 'GITHUB_CLIENT_ID',
  clientSecret: 'GITHUB_CLIENT_SECRET',
  loginCommand: 'mcpauth generate-github-token --force',
}

/**
 * Where a login's client and tokens are kept. The `.env` keys of a LoginKeys
 * by default; a token file for a login kept in a token directory.
 */
export interface LoginStorage {
  /** The file named in messages. */
  location: string
  savedClient(): Promise<ClientCredentials | undefined>
  saveClient(client: ClientCredentials): Promise<void>
  saveTokens(tokens: TokenSet, now: number, metadata: AuthServerMetadata): Promise<void>
  /** Where an operator writes the redirect URI of a client registered by hand, named in messages. */
  redirectUriKey?: string
}

export interface LoginOptions {
  envFilePath: string
  keys: LoginKeys
  /** Defaults to the `.env` keys of `keys`. */
  storage?: LoginStorage
  authServerUrl: string
  clientName: string
  /** The resource (RFC 8707) the token is for: the MCP server's URL. */
  resource?: string
  scope?: string
  device: boolean
  openBrowser: boolean
  pasted?: PastedInput
  notify: (message: string) => void
  loginTimeoutMs: number
  http: OAuthHttpOptions
}

export interface LoginResult {
  auth_server: string
  client_id: string
  client_registered: boolean
  /** How the browser flow's client and redirect URI were settled; null for the device flow with a saved client. */
  client_redirect: ClientRedirect | null
  flow: 'device' | 'authorization_code'
  expires_at: number | null
  has_refresh_token: boolean
}

export async function runOAuthLogin(options: LoginOptions): Promise<LoginResult> {
  const {keys} = options
  const storage = options.storage ?? envLoginStorage(options.envFilePath, keys)
  // Loaded only for a sign-in (HTTP, the browser and device flows): every command that reads a login imports this module.
  const [{discoverAuthServer}, {defaultScope}, {settleClientRedirect}, {runDeviceFlow}, {runAuthorizationCodeFlow}] = await Promise.all([
    import('./discovery.js'),
    import('./client.js'),
    import('./client-redirect.js'),
    import('./device.js'),
    import('./pkce.js'),
  ])
  const metadata = await discoverAuthServer(options.authServerUrl, options.http)
  if (options.device && !metadata.device_authorization_endpoint) {
    throw usageError(`${metadata.issuer} does not offer the device flow.`, 'Run it without --device to sign in through the browser.')
  }
  const scope = options.scope ?? defaultScope(metadata)
  const saved = await storage.savedClient()
  let client: ClientCredentials
  let redirect: ClientRedirect | null = null
  let receiver: LoopbackReceiver | undefined
  if (options.device && saved) {
    client = saved
  } else {
    const settled = await settleClientRedirect({
      metadata,
      saved,
      clientName: options.clientName,
      scope,
      location: storage.location,
      redirectUriKey: storage.redirectUriKey,
      clientIdKey: keys.clientId,
      saveClient: (client) => storage.saveClient(client),
      notify: options.notify,
      http: options.http,
    })
    ;({client, redirect, receiver} = settled)
  }
  try {
    let tokens: TokenSet
    if (options.device) {
      // The device flow needs no redirect: a receiver was only started to register the client.
      await receiver?.close()
      receiver = undefined
      tokens = await runDeviceFlow({
        deviceEndpoint: metadata.device_authorization_endpoint!,
        tokenEndpoint: metadata.token_endpoint,
        client,
        scope,
        resource: options.resource,
        http: options.http,
        notify: options.notify,
        overallTimeoutMs: options.loginTimeoutMs,
      })
    } else {
      tokens = await runAuthorizationCodeFlow({
        metadata,
        client,
        receiver: receiver!,
        scope,
        resource: options.resource,
        openBrowser: options.openBrowser,
        pasted: options.pasted,
        notify: options.notify,
        loginTimeoutMs: options.loginTimeoutMs,
        http: options.http,
      }).catch((error: unknown) => {
        throw saved && redirect !== 'replaced' ? withStaleClientHint(error, keys) : error
      })
    }
    const now = Math.floor(Date.now() / 1000)
    await storage.saveTokens(tokens, now, metadata)
    return {
      auth_server: metadata.issuer,
      client_id: client.client_id,
      client_registered: redirect === 'registered' || redirect === 'replaced',
      client_redirect: redirect,
      flow: options.device ? 'device' : 'authorization_code',
      expires_at: tokenExpiresAt(tokens, now),
      has_refresh_token: tokens.refresh_token !== undefined,
    }
  } finally {
    await receiver?.close()
  }
}

export function envLoginStorage(envFilePath: string, keys: LoginKeys): LoginStorage {
  return {
    location: envFilePath,
    redirectUriKey: keys.redirectUri,
    savedClient: async () => savedClient(keys, (await readEnvFile(envFilePath)).values),
    saveClient: async (client) => {
      await updateEnvFile(envFilePath, () => clientUpdates(keys, client))
    },
    saveTokens: async (tokens, now) => {
      await updateEnvFile(envFilePath, () => tokenUpdates(keys, tokens, now))
    },
  }
}

export function savedClient(keys: LoginKeys, values: ReadonlyMap<string, string>): ClientCredentials | undefined {
  const clientId = values.get(keys.clientId)
  if (!clientId) return undefined
  return {
    client_id: clientId,
    client_secret: values.get(keys.clientSecret) || undefined,
    registration_access_token: keys.registrationToken ? values.get(keys.registrationToken) || undefined : undefined,
    registration_client_uri: keys.registrationUri ? values.get(keys.registrationUri) || undefined : undefined,
    redirect_uris: splitUris(keys.redirectUri ? values.get(keys.redirectUri) : undefined),
  }
}

/** Saved redirect URIs: one, or several separated by spaces. */
export function splitUris(value: string | undefined): string[] | undefined {
  const uris = value?.split(/\s+/).filter(Boolean)
  return uris && uris.length > 0 ? uris : undefined
}

/** The keys of a client, all of them: a replaced client's secret or registration token must not stay behind. */
export function clientUpdates(keys: LoginKeys, client: ClientCredentials): EnvUpdates {
  const updates: EnvUpdates = {[keys.clientId]: client.client_id, [keys.clientSecret]: client.client_secret ?? null}
  if (keys.registrationToken) updates[keys.registrationToken] = client.registration_access_token ?? null
  if (keys.registrationUri) updates[keys.registrationUri] = client.registration_client_uri ?? null
  if (keys.redirectUri) updates[keys.redirectUri] = client.redirect_uris?.join(' ') ?? null
  return updates
}

/**
 * The keys a token answer changes. A missing refresh token (the gateway sends
 * `"refresh_token": null`) leaves the saved one alone; an opaque access
 * token's expiry goes beside it as <NAME>_EXPIRES_AT, a JWT carries its own.
 */
export function tokenUpdates(keys: LoginKeys, tokens: TokenSet, now: number): EnvUpdates {
  const updates: EnvUpdates = {[keys.accessToken]: tokens.access_token}
  const expiresAt = tokenExpiresAt(tokens, now)
  updates[`${keys.accessToken}${EXPIRES_AT_SUFFIX}`] = looksLikeJwt(tokens.access_token) || expiresAt === null ? null : String(expiresAt)
  if (tokens.refresh_token) {
    updates[keys.refreshToken] = tokens.refresh_token
    updates[`${keys.refreshToken}${EXPIRES_AT_SUFFIX}`] = tokens.refresh_token_expires_in === undefined ? null : String(now + tokens.refresh_token_expires_in)
  }
  return updates
}

export function tokenExpiresAt(tokens: TokenSet, now: number): number | null {
  return tokens.expires_in === undefined ? null : now + Math.floor(tokens.expires_in)
}

/** A client saved long ago may have been deleted at the server (oauth-delete-registration, CLIENT_LIFETIME). */
function withStaleClientHint(error: unknown, keys: LoginKeys): unknown {
  if (!(error instanceof McpAuthError) || !['invalid_client', 'unauthorized_client', 'invalid_redirect_uri', 'invalid_request'].includes(error.code))
    return error
  return new McpAuthError(error.message, {
    code: error.code,
    exitCode: ExitCode.unreachable,
    hint: `The client ${keys.clientId} saved in .env may no longer be registered: remove ${keys.clientId} and ${keys.clientSecret} from .env and run it again to register a new one.`,
    cause: error,
  })
}
