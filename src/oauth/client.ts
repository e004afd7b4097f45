import {McpAuthError, ExitCode, unreachableError} from '../errors.js'
import type {AuthServerMetadata} from './discovery.js'
import {type OAuthHttpOptions, credentialField, lifetimeField, oauthError, oauthFailure, requestOAuth, stringField} from './http.js'

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
  const answer = await requestOAuth(
    metadata.registration_endpoint,
    {
      json: {
        client_name: request.clientName,
        redirect_uris: request.redirectUris,
        grant_types: registrationGrantTypes(metadata),
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        // RFC 8252: a CLI is a native app; its loopback redirect may use any port.
        application_type: 'native',
        ...(request.scope ? {scope: request.scope} : {}),
      },
    },
    http,
  )
  const clientId = stringField(answer.body, 'client_id')
  if (answer.status >= 300 || !clientId) throw oauthFailure(`Registering a client at ${metadata.registration_endpoint}`, answer)
  const from = new URL(metadata.registration_endpoint).origin
  return {
    client_id: credentialField(answer.body, 'client_id', from)!,
    client_secret: credentialField(answer.body, 'client_secret', from),
    registration_access_token: credentialField(answer.body, 'registration_access_token', from),
    registration_client_uri: credentialField(answer.body, 'registration_client_uri', from),
  }
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
