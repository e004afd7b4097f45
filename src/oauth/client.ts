import {McpAuthError, ExitCode, unreachableError} from '../errors.js'
import type {AuthServerMetadata} from './discovery.js'
import {type OAuthHttpOptions, credentialField, lifetimeField, secretUrlField, oauthError, oauthFailure, requestOAuth, stringField} from './http.js'

/**
 * The client side of OAuth that every flow shares: dynamic client
 * registration (RFC 7591, keeping what RFC 7592 needs to manage the client
 * later) and the token endpoint (code, device code and refresh grants).
 */

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

export interface ClientCredentials {
  client_id: string
  client_secret?: string
  registration_access_token?: string
  registration_client_uri?: string
  /** The redirect URIs the client is registered with, when known (saved with it, or read by RFC 7592). */
  redirect_uris?: string[]
}

/** A token endpoint's answer; refresh_token is absent (or was null) when the server keeps the old one. */
export interface TokenSet {
  access_token: string
  refresh_token?: string
  expires_in?: number
  refresh_token_expires_in?: number
  scope?: string
}

export async function registerClient(
  metadata: AuthServerMetadata,
  request: {clientName: string; redirectUris: string[]; scope?: string},
  http: OAuthHttpOptions = {},
): Promise<ClientCredentials> {
  if (!metadata.registration_endpoint) {
    throw new McpAuthError(`${metadata.issuer} does not offer dynamic client registration.`, {
      code: 'no_registration',
      exitCode: ExitCode.unreachable,
      hint: 'Register a client with the server by hand and put its id and secret in .env.',
    })
  }
  const answer = await requestOAuth(metadata.registration_endpoint, {json: clientMetadata(metadata, request)}, http)
  const clientId = stringField(answer.body, 'client_id')
  if (answer.status >= 300 || !clientId) throw oauthFailure(`Registering a client at ${metadata.registration_endpoint}`, answer)
  const from = new URL(metadata.registration_endpoint).origin
  return {
    client_id: credentialField(answer.body, 'client_id', from)!,
    client_secret: credentialField(answer.body, 'client_secret', from),
    registration_access_token: credentialField(answer.body, 'registration_access_token', from),
    registration_client_uri: secretUrlField(answer.body, 'registration_client_uri', from),
    redirect_uris: stringList(answer.body.redirect_uris) ?? request.redirectUris,
  }
}

/** What a client registered by RFC 7591 can do with RFC 7592: read and update its own registration. */
export function canManageRegistration(
  client: ClientCredentials,
): client is ClientCredentials & {registration_access_token: string; registration_client_uri: string} {
  return Boolean(client.registration_access_token && client.registration_client_uri)
}

/** The registration as the server holds it now (RFC 7592 read); `gone` when the server no longer knows the client or its token. */
export async function readClientRegistration(
  client: ClientCredentials,
  http: OAuthHttpOptions = {},
): Promise<{gone: true; status: number} | {gone: false; redirect_uris?: string[]}> {
  if (!canManageRegistration(client)) throw new Error('readClientRegistration needs a registration_client_uri and a registration_access_token')
  const answer = await requestOAuth(client.registration_client_uri, {bearer: client.registration_access_token}, http)
  if (answer.status === 401 || answer.status === 403 || answer.status === 404) return {gone: true, status: answer.status}
  if (answer.status >= 300) throw oauthFailure(`Reading the registration of client ${client.client_id}`, answer)
  return {gone: false, redirect_uris: stringList(answer.body.redirect_uris)}
}

/**
 * Replaces the client's registered metadata (RFC 7592 PUT), keeping its id
 * and secret: the way to move a saved client to a new loopback redirect URI.
 * Answers the client as it is now registered.
 */
export async function updateClientRegistration(
  metadata: AuthServerMetadata,
  client: ClientCredentials,
  request: {clientName: string; redirectUris: string[]; scope?: string},
  http: OAuthHttpOptions = {},
): Promise<ClientCredentials> {
  if (!canManageRegistration(client)) throw new Error('updateClientRegistration needs a registration_client_uri and a registration_access_token')
  const body = {
    client_id: client.client_id,
    ...(client.client_secret ? {client_secret: client.client_secret} : {}),
    ...clientMetadata(metadata, request),
  }
  const answer = await requestOAuth(client.registration_client_uri, {method: 'PUT', json: body, bearer: client.registration_access_token}, http)
  if (answer.status >= 300) throw oauthFailure(`Updating the registration of client ${client.client_id} (RFC 7592)`, answer)
  const answeredId = stringField(answer.body, 'client_id')
  if (answeredId && answeredId !== client.client_id)
    throw unreachableError(
      `${client.registration_client_uri} answered for another client (${answeredId}).`,
      'Check the registration URI saved with the client.',
    )
  const from = new URL(client.registration_client_uri).origin
  return {
    client_id: client.client_id,
    client_secret: credentialField(answer.body, 'client_secret', from) ?? client.client_secret,
    registration_access_token: credentialField(answer.body, 'registration_access_token', from) ?? client.registration_access_token,
    registration_client_uri: secretUrlField(answer.body, 'registration_client_uri', from) ?? client.registration_client_uri,
    redirect_uris: stringList(answer.body.redirect_uris) ?? request.redirectUris,
  }
}

function clientMetadata(metadata: AuthServerMetadata, request: {clientName: string; redirectUris: string[]; scope?: string}): Record<string, unknown> {
  return {
    client_name: request.clientName,
    redirect_uris: request.redirectUris,
    grant_types: registrationGrantTypes(metadata),
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    // RFC 8252 calls a CLI a native app. Servers that follow it accept any loopback port; the gateway does not, so the port is kept.
    application_type: 'native',
    ...(request.scope ? {scope: request.scope} : {}),
  }
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined
}

/**
 * One token endpoint request. The client authenticates in the body
 * (client_secret_post), which the gateway, oidc-provider and GitHub all take.
 * OAuth errors come back as McpAuthError whose code is the OAuth error.
 */
export async function requestToken(
  tokenEndpoint: string,
  client: ClientCredentials,
  grant: Record<string, string>,
  http: OAuthHttpOptions = {},
): Promise<TokenSet> {
  const answer = await requestOAuth(tokenEndpoint, {form: {...grant, client_id: client.client_id, client_secret: client.client_secret}}, http)
  return parseTokenAnswer(tokenEndpoint, answer)
}

export function parseTokenAnswer(tokenEndpoint: string, answer: {status: number; body: Record<string, unknown>}): TokenSet {
  const problem = oauthError(answer)
  if (problem || answer.status >= 300) throw oauthFailure(`The token request to ${new URL(tokenEndpoint).origin}`, answer)
  const from = new URL(tokenEndpoint).origin
  const accessToken = credentialField(answer.body, 'access_token', from)
  if (!accessToken) throw unreachableError(`${tokenEndpoint} answered without an access_token.`, 'Check the server: this is not a token endpoint answer.')
  return {
    access_token: accessToken,
    refresh_token: credentialField(answer.body, 'refresh_token', from),
    expires_in: lifetimeField(answer.body, 'expires_in'),
    refresh_token_expires_in: lifetimeField(answer.body, 'refresh_token_expires_in'),
    scope: stringField(answer.body, 'scope'),
  }
}

/** The scope to ask for: the usual OpenID scopes the server knows, and offline_access so a refresh token comes back. */
export function defaultScope(metadata: AuthServerMetadata): string | undefined {
  const supported = metadata.scopes_supported
  if (!supported) return undefined
  const wanted = ['openid', 'profile', 'email', 'offline_access'].filter((scope) => supported.includes(scope))
  return wanted.length > 0 ? wanted.join(' ') : undefined
}

function registrationGrantTypes(metadata: AuthServerMetadata): string[] {
  const grants = ['authorization_code', 'refresh_token']
  const supported = metadata.grant_types_supported
  if (metadata.device_authorization_endpoint && (!supported || supported.includes(DEVICE_CODE_GRANT))) grants.push(DEVICE_CODE_GRANT)
  return grants
}
