import type {Settings} from '../env/settings.js'
import {type EnvFile, readEnvFile, updateEnvFile} from '../env/env-file.js'
import {McpAuthError, ExitCode} from '../errors.js'
import {decodeJwt, looksLikeJwt} from '../jwt/codec.js'
import {requestToken} from '../oauth/client.js'
import {discoverAuthServer, findMcpAuthServer, gatewayAuthServerUrl} from '../oauth/discovery.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import {GATEWAY_LOGIN, GITHUB_LOGIN, type LoginKeys, MCP_CLIENT_LOGIN, savedClient, tokenExpiresAt, tokenUpdates} from '../oauth/login.js'
import {toEpochSeconds} from '../time.js'
import {EXPIRES_AT_SUFFIX} from '../jwt/expiry.js'
import {githubTokenEndpoint} from '../oauth/github.js'

/**
 * Refreshes the tokens in `.env` that are due. Refresh tokens may be
 * single-use (GitHub's ghr_, a rotating server): spending one twice loses the
 * login. So the `.env` lock is held from the re-read through the exchange to
 * the write, and a token that changed while this process waited for the lock
 * was refreshed by another process: that one is used, not refreshed again.
 */

export type RefreshStatus = 'refreshed' | 'refreshed_elsewhere' | 'still_valid' | 'unknown_expiry' | 'failed'

export interface RefreshOutcome {
  name: string
  status: RefreshStatus
  expires_at: number | null
  refresh_token_rotated: boolean
  reason: string | null
  /** The command that logs in again, when only that can help. */
  login_command: string | null
}

export interface RefreshOptions {
  bufferSeconds: number
  force: boolean
  http: OAuthHttpOptions
}

export const REFRESHABLE_LOGINS: readonly LoginKeys[] = [GATEWAY_LOGIN, MCP_CLIENT_LOGIN, GITHUB_LOGIN]

export const NO_REFRESHABLE_TOKEN = `no refreshable token: none of ${REFRESHABLE_LOGINS.map((keys) => keys.refreshToken).join(', ')} is set`

export async function refreshDueTokens(settings: Settings, options: RefreshOptions): Promise<RefreshOutcome[]> {
  const before = await readEnvFile(settings.envFilePath)
  const outcomes: RefreshOutcome[] = []
  for (const keys of REFRESHABLE_LOGINS) {
    const outcome = await refreshIfDue(settings, keys, before, options)
    if (outcome) outcomes.push(outcome)
  }
  return outcomes
}

/**
 * Refreshes one login if its access token is due, under the same lock and
 * with the same once-only guarantee as refreshDueTokens. Undefined when the
 * login has no refresh token (nothing to refresh with); a refusal is a
 * 'failed' outcome, not an exception.
 */
export async function refreshLoginIfDue(settings: Settings, keys: LoginKeys, options: RefreshOptions): Promise<RefreshOutcome | undefined> {
  return refreshIfDue(settings, keys, await readEnvFile(settings.envFilePath), options)
}

async function refreshIfDue(settings: Settings, keys: LoginKeys, before: EnvFile, options: RefreshOptions): Promise<RefreshOutcome | undefined> {
  if (!before.values.get(keys.refreshToken)) return undefined
  try {
    return await refreshOne(settings, keys, before, options)
  } catch (error) {
    if (!(error instanceof McpAuthError)) throw error
    return failure(keys, error)
  }
}

/** When a saved access token expires: its JWT `exp`, else `<NAME>_EXPIRES_AT`; null when unknown. */
export function savedExpiry(values: ReadonlyMap<string, string>, accessTokenKey: string): number | null {
  const token = values.get(accessTokenKey)
  if (token && looksLikeJwt(token)) {
    try {
      const exp = decodeJwt(token).claims.exp
      if (typeof exp === 'number') return exp
    } catch {
      // An unreadable token falls back to the stored expiry, or counts as unknown.
    }
  }
  const stored = toEpochSeconds(values.get(`${accessTokenKey}${EXPIRES_AT_SUFFIX}`))
  return stored === undefined ? null : Math.floor(stored)
}

async function refreshOne(settings: Settings, keys: LoginKeys, before: EnvFile, options: RefreshOptions): Promise<RefreshOutcome> {
  const seenAccessToken = before.values.get(keys.accessToken)
  const seenRefreshToken = before.values.get(keys.refreshToken)
  const verdict = dueness(before.values, keys, options)
  if (verdict.status !== 'due') return outcome(keys, verdict.status, savedExpiry(before.values, keys.accessToken))

  let result: RefreshOutcome | undefined
  await updateEnvFile(settings.envFilePath, async (current) => {
    if (current.values.get(keys.accessToken) !== seenAccessToken || current.values.get(keys.refreshToken) !== seenRefreshToken) {
      result = outcome(keys, 'refreshed_elsewhere', savedExpiry(current.values, keys.accessToken))
      return {}
    }
    const client = savedClient(keys, current.values)
    if (!client) throw missingClient(keys)
    const tokenEndpoint = await findTokenEndpoint(settings, keys, options.http)
    const now = Math.floor(Date.now() / 1000)
    const tokens = await requestToken(tokenEndpoint, client, {grant_type: 'refresh_token', refresh_token: seenRefreshToken!}, options.http)
    const rotated = tokens.refresh_token !== undefined && tokens.refresh_token !== seenRefreshToken
    const expiresAt = looksLikeJwt(tokens.access_token)
      ? savedExpiry(new Map([[keys.accessToken, tokens.access_token]]), keys.accessToken)
      : tokenExpiresAt(tokens, now)
    result = {...outcome(keys, 'refreshed', expiresAt), refresh_token_rotated: rotated}
    return tokenUpdates(keys, tokens, now)
  })
  return result!
}

function dueness(values: ReadonlyMap<string, string>, keys: LoginKeys, options: RefreshOptions): {status: 'due' | 'still_valid' | 'unknown_expiry'} {
  if (options.force || !values.get(keys.accessToken)) return {status: 'due'}
  const expiresAt = savedExpiry(values, keys.accessToken)
  if (expiresAt === null) return {status: 'unknown_expiry'}
  return {status: expiresAt - Date.now() / 1000 <= options.bufferSeconds ? 'due' : 'still_valid'}
}

async function findTokenEndpoint(settings: Settings, keys: LoginKeys, http: OAuthHttpOptions): Promise<string> {
  if (keys === GITHUB_LOGIN) return githubTokenEndpoint(settings)
  const mcpServerUrl = keys === MCP_CLIENT_LOGIN ? settings.get('MCP_SERVER_URL') : undefined
  const authServer = mcpServerUrl ? (await findMcpAuthServer(mcpServerUrl, http)).authServerUrl : gatewayAuthServerUrl(settings)
  return (await discoverAuthServer(authServer, http)).token_endpoint
}

function outcome(keys: LoginKeys, status: RefreshStatus, expiresAt: number | null): RefreshOutcome {
  const reason = status === 'unknown_expiry' ? `no expiry known for ${keys.accessToken}; refresh it with --force` : null
  return {name: keys.accessToken, status, expires_at: expiresAt, refresh_token_rotated: false, reason, login_command: null}
}

function failure(keys: LoginKeys, error: McpAuthError): RefreshOutcome {
  // GitHub says bad_refresh_token where the RFC says invalid_grant.
  const spent = error.code === 'invalid_grant' || error.code === 'bad_refresh_token'
  const needsLogin = spent || error.code === 'missing_client' || error.code === 'invalid_client'
  const reason = spent
    ? `${keys.refreshToken} was refused (${error.code}): it expired, was revoked or was already used; a new login is needed`
    : error.message.replace(/\.$/, '')
  return {
    name: keys.accessToken,
    status: 'failed',
    expires_at: null,
    refresh_token_rotated: false,
    reason,
    login_command: needsLogin ? keys.loginCommand : null,
  }
}

function missingClient(keys: LoginKeys): McpAuthError {
  return new McpAuthError(`${keys.refreshToken} is set but ${keys.clientId} is not: the refresh needs the client it was issued to`, {
    code: 'missing_client',
    exitCode: ExitCode.unreachable,
  })
}
