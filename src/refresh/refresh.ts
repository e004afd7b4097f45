import type {Settings} from '../env/settings.js'
import {McpAuthError} from '../errors.js'
import {envStoredLogins, savedExpiry} from '../logins/env-store.js'
import {type LoginRecord, type StoredLogin, accessTokenExpiry} from '../logins/stored-login.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import {GATEWAY_LOGIN, GITHUB_LOGIN, type LoginKeys, MCP_CLIENT_LOGIN} from '../oauth/login.js'

/**
 * Refreshes logins that are due, wherever they are kept. Refresh tokens may
 * be single-use (Keycloak, Atlassian, GitHub's ghr_): spending one twice
 * loses the login. So each login is refreshed under its own lock, held
 * across its token exchange: a process that waited for it re-reads the login
 * and uses the token the other one saved. The file the login is kept in
 * (`.env`, shared by every login and every command) is locked only for the
 * final read-modify-write, never across the network: a slow provider holds
 * up nobody but the processes refreshing that same login.
 */

export type RefreshStatus = 'refreshed' | 'refreshed_elsewhere' | 'still_valid' | 'unknown_expiry' | 'incomplete' | 'failed'

export interface RefreshOutcome {
  /** The access token's .env key, or the token file's name. */
  name: string
  /** mcpauth's name for the login: gateway, mcp-client, github, or its own. */
  login: string
  /** The .env or token file it is kept in. */
  stored_in: string
  status: RefreshStatus
  expires_at: number | null
  refresh_token_rotated: boolean
  /** Why it failed, or what to add before it can be refreshed (incomplete). */
  reason: string | null
  /** The command that logs in again, when only that can help. */
  login_command: string | null
}

export interface RefreshOptions {
  bufferSeconds: number
  force: boolean
  http: OAuthHttpOptions
  /** Called when another process is refreshing the same login and this one waits for it. */
  onWait?: (login: StoredLogin) => void
}

/** Logins of different providers are refreshed side by side, this many at a time. */
export const REFRESH_CONCURRENCY = 4

export const REFRESHABLE_LOGINS: readonly LoginKeys[] = [GATEWAY_LOGIN, MCP_CLIENT_LOGIN, GITHUB_LOGIN]

export const NO_REFRESHABLE_TOKEN = `no refreshable token: none of ${REFRESHABLE_LOGINS.map((keys) => keys.refreshToken).join(', ')} is set, no named login has one, and no token file was found`

export {savedExpiry}

/** Refreshes the due logins of a `.env` (the built-in ones and the named ones). */
export async function refreshDueTokens(settings: Settings, options: RefreshOptions): Promise<RefreshOutcome[]> {
  return refreshLogins(await envStoredLogins(settings.envFilePath), options)
}

/**
 * Refreshes one built-in `.env` login if it is due, with the same once-only
 * guarantee. Undefined when the login has no refresh token.
 */
export async function refreshLoginIfDue(settings: Settings, keys: LoginKeys, options: RefreshOptions): Promise<RefreshOutcome | undefined> {
  const login = (await envStoredLogins(settings.envFilePath)).find((candidate) => candidate.name === keys.accessToken)
  return login ? refreshLogin(login, options) : undefined
}

/**
 * Refreshes every due login, REFRESH_CONCURRENCY at a time, in the order
 * given. A login that fails is an outcome, not an exception: the others go
 * on. An unexpected error (a bug, a full disk) is thrown once all are done.
 */
export async function refreshLogins(logins: readonly StoredLogin[], options: RefreshOptions): Promise<RefreshOutcome[]> {
  const settled = await mapWithLimit(logins, REFRESH_CONCURRENCY, (login) => refreshLogin(login, options))
  const unexpected = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (unexpected) throw unexpected.reason
  return settled.map((result) => (result as PromiseFulfilledResult<RefreshOutcome>).value)
}

/**
 * What refreshLoginIfDue answers when it needs neither a lock nor the
 * network (undefined: the login has no refresh token), or 'due' when it
 * would refresh. Throws where refreshLoginIfDue would report a failure.
 * For mcp-headers' launch path, which runs the full command when it is due.
 */
export async function loginOutcomeIfNotDue(settings: Settings, keys: LoginKeys, options: RefreshOptions): Promise<RefreshOutcome | undefined | 'due'> {
  const login = (await envStoredLogins(settings.envFilePath)).find((candidate) => candidate.name === keys.accessToken)
  return login ? (settledOutcome(login, await login.read(), options) ?? 'due') : undefined
}

export async function refreshLogin(login: StoredLogin, options: RefreshOptions): Promise<RefreshOutcome> {
  try {
    const seen = await login.read()
    const settled = settledOutcome(login, seen, options)
    if (settled) return settled
    // Loaded only for a refresh: a login that is not due (mcp-headers' launch path) needs neither lock nor HTTP.
    const {withLoginLock} = await import('./single-flight.js')
    return await withLoginLock(
      login.lockPath,
      () => options.onWait?.(login),
      () => exchange(login, seen, options),
    )
  } catch (error) {
    if (error instanceof McpAuthError) return failure(login, error)
    throw error
  }
}

/** Under the login's own lock: re-read, and refresh unless another process just did. */
async function exchange(login: StoredLogin, seen: LoginRecord, options: RefreshOptions): Promise<RefreshOutcome> {
  const current = await login.read()
  if (current.accessToken !== seen.accessToken || current.refreshToken !== seen.refreshToken) {
    return outcome(login, 'refreshed_elsewhere', current.expiresAt)
  }
  if ('missing' in current.recipe) return incomplete(login, current)
  const {client, endpoint} = current.recipe
  const {url, resource} = await endpoint(options.http)
  const grant: Record<string, string> = {grant_type: 'refresh_token', refresh_token: current.refreshToken!}
  if (resource) grant.resource = resource
  const now = Math.floor(Date.now() / 1000)
  const {requestToken} = await import('../oauth/client.js')
  const tokens = await requestToken(url, client, grant, options.http)
  await login.save(tokens, now)
  const rotated = tokens.refresh_token !== undefined && tokens.refresh_token !== current.refreshToken
  return {...outcome(login, 'refreshed', accessTokenExpiry(tokens, now)), refresh_token_rotated: rotated}
}

/** A login that needs the operator: its refresh failed, or it cannot be refreshed and expires within the buffer. */
export function needsAttention(result: RefreshOutcome, bufferSeconds: number): boolean {
  if (result.status === 'failed') return true
  return result.status === 'incomplete' && result.expires_at !== null && result.expires_at - Date.now() / 1000 <= bufferSeconds
}

/** The outcome for a login that cannot or need not be refreshed now; undefined when it is due. */
function settledOutcome(login: StoredLogin, seen: LoginRecord, options: RefreshOptions): RefreshOutcome | undefined {
  if ('missing' in seen.recipe) return incomplete(login, seen)
  const verdict = dueness(seen, options)
  return verdict === 'due' ? undefined : outcome(login, verdict, seen.expiresAt)
}

function dueness(record: LoginRecord, options: RefreshOptions): 'due' | 'still_valid' | 'unknown_expiry' {
  if (options.force || !record.accessToken) return 'due'
  if (record.expiresAt === null) return 'unknown_expiry'
  return record.expiresAt - Date.now() / 1000 <= options.bufferSeconds ? 'due' : 'still_valid'
}

function outcome(login: StoredLogin, status: RefreshStatus, expiresAt: number | null): RefreshOutcome {
  const reason = status === 'unknown_expiry' ? `no expiry known for ${login.name}; refresh it with --force` : null
  return {
    name: login.name,
    login: login.login,
    stored_in: login.storedIn,
    status,
    expires_at: expiresAt,
    refresh_token_rotated: false,
    reason,
    login_command: null,
  }
}

function incomplete(login: StoredLogin, record: LoginRecord): RefreshOutcome {
  const {missing, signInFixes} = record.recipe as {missing: string; signInFixes?: boolean}
  return {...outcome(login, 'incomplete', record.expiresAt), reason: missing, login_command: signInFixes ? login.loginCommand : null}
}

function failure(login: StoredLogin, error: McpAuthError): RefreshOutcome {
  // GitHub says bad_refresh_token where the RFC says invalid_grant.
  const spent = error.code === 'invalid_grant' || error.code === 'bad_refresh_token'
  const needsLogin = spent || error.code === 'invalid_client'
  const reason = spent
    ? `${login.refreshTokenName} was refused (${error.code}): it expired, was revoked or was already used; a new login is needed`
    : error.message.replace(/\.$/, '')
  return {...outcome(login, 'failed', null), reason, login_command: needsLogin ? login.loginCommand : null}
}

async function mapWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]).then(
        (value): PromiseFulfilledResult<R> => ({status: 'fulfilled', value}),
        (reason): PromiseRejectedResult => ({status: 'rejected', reason}),
      )
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}
