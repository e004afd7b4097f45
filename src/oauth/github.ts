import type {Settings} from '../env/settings.js'
import {usageError} from '../errors.js'
import type {ClientCredentials} from './client.js'
import type {AuthServerMetadata} from './discovery.js'
import {requireSecureUrl} from './network.js'

/**
 * GitHub's OAuth endpoints, which publish no metadata: device flow at
 * /login/device/code, the web flow at /login/oauth/authorize, tokens at
 * /login/oauth/access_token (also the refresh grant of GitHub App tokens).
 * GitHub answers form-encoded unless asked for JSON, and pending device polls
 * with HTTP 200 and an `error`: oauth/http and oauth/device handle both.
 */

export const DEFAULT_GITHUB_BASE_URL = 'https://github.com'

export function githubBaseUrl(settings: Settings): string {
  const base = settings.get('GITHUB_BASE_URL') ?? DEFAULT_GITHUB_BASE_URL
  return requireSecureUrl(base, 'GITHUB_BASE_URL').href.replace(/\/+$/, '')
}

export function githubTokenEndpoint(settings: Settings): string {
  return `${githubBaseUrl(settings)}/login/oauth/access_token`
}

export function githubMetadata(settings: Settings): AuthServerMetadata {
  const base = githubBaseUrl(settings)
  return {
    issuer: base,
    authorization_endpoint: `${base}/login/oauth/authorize`,
    token_endpoint: `${base}/login/oauth/access_token`,
    device_authorization_endpoint: `${base}/login/device/code`,
  }
}

/** The OAuth or GitHub App the operator created for the gateway: GITHUB_CLIENT_ID (and its secret). */
export function githubClient(settings: Settings): ClientCredentials {
  const clientId = settings.get('GITHUB_CLIENT_ID')
  if (!clientId) {
    throw usageError(
      'GITHUB_CLIENT_ID is not set.',
      'Create a GitHub OAuth App or GitHub App for the gateway and put its client id (and GITHUB_CLIENT_SECRET) in .env.',
    )
  }
  return {client_id: clientId, client_secret: settings.get('GITHUB_CLIENT_SECRET')}
}

/** Hints for GitHub's own device-flow errors. */
export function explainGithubError(error: string): string | undefined {
  if (error === 'device_flow_disabled') return 'Enable "Device Flow" in the settings of the GitHub App or OAuth App (Developer settings), or use --browser.'
  if (error === 'incorrect_client_credentials') return 'Check GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET.'
  if (error === 'unsupported_grant_type' || error === 'bad_refresh_token') return 'A new login is needed: run mcpauth generate-github-token --force.'
  return undefined
}
