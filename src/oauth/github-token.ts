import {McpAuthError, ExitCode} from '../errors.js'
import {fetchWithTimeout, requireSecureUrl} from './network.js'

/**
 * GitHub tokens: recognised by their documented prefixes
 * (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/),
 * checked offline by shape and online, on request, against GitHub's `/user`.
 */

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com'

const GITHUB_PREFIXES: ReadonlyArray<{prefix: string; kind: string}> = [
  {prefix: 'github_pat_', kind: 'fine-grained personal access token'},
  {prefix: 'ghp_', kind: 'personal access token'},
  {prefix: 'gho_', kind: 'OAuth access token'},
  {prefix: 'ghu_', kind: 'GitHub App user access token'},
  {prefix: 'ghs_', kind: 'GitHub App installation token'},
  {prefix: 'ghr_', kind: 'GitHub App refresh token'},
]

/** GitHub has said tokens may grow; today's are 40 (classic) to 93 characters. */
const MAX_TOKEN_LENGTH = 255

export function isGithubToken(value: string): boolean {
  return GITHUB_PREFIXES.some(({prefix}) => value.startsWith(prefix))
}

/** The kind of GitHub token, or the reason the value cannot be one. */
export function checkGithubTokenFormat(value: string): {ok: true; kind: string} | {ok: false; problem: string} {
  const known = GITHUB_PREFIXES.find(({prefix}) => value.startsWith(prefix))
  if (!known) return {ok: false, problem: `not a GitHub token (expected a prefix such as ${GITHUB_PREFIXES.map((p) => p.prefix).join(', ')})`}
  if (/\s/.test(value)) return {ok: false, problem: 'contains whitespace (a line break or a space pasted with it?)'}
  const body = value.slice(known.prefix.length)
  if (!/^[A-Za-z0-9_]+$/.test(body)) return {ok: false, problem: `${known.kind} with characters GitHub never uses`}
  if (value.length < 40 || value.length > MAX_TOKEN_LENGTH) return {ok: false, problem: `${known.kind} of ${value.length} characters: truncated?`}
  if (known.prefix === 'ghr_') return {ok: false, problem: 'a refresh token (ghr_), not an access token'}
  return {ok: true, kind: known.kind}
}

export type GithubUserCheck = {ok: true; login: string} | {ok: false; problem: string}

/**
 * GET /user with the token. 200 names the account; 401 means GitHub rejects
 * the token. Anything else (network, 5xx, rate limit) means the check could
 * not run: exit 4, not a verdict on the token.
 */
export async function checkGithubTokenOnline(token: string, apiUrl = DEFAULT_GITHUB_API_URL, timeoutMs?: number): Promise<GithubUserCheck> {
  const url = requireSecureUrl(`${apiUrl.replace(/\/+$/, '')}/user`, 'GITHUB_API_URL')
  const response = await fetchWithTimeout(
    url,
    {headers: {Authorization: `Bearer ${token}`, Accept: 'application/vnd.github+json', 'User-Agent': 'mcpauth', 'X-GitHub-Api-Version': '2022-11-28'}},
    timeoutMs,
  )
  const body = (await response.json().catch(() => ({}))) as {login?: unknown; message?: unknown}
  if (response.status === 200 && typeof body.login === 'string') return {ok: true, login: body.login}
  if (response.status === 401) return {ok: false, problem: `GitHub rejects it (401${typeof body.message === 'string' ? ` ${body.message}` : ''})`}
  throw new McpAuthError(`GitHub answered ${response.status} to GET ${url.origin}${url.pathname}; the token could not be checked.`, {
    code: 'github_unavailable',
    exitCode: ExitCode.unreachable,
    hint: response.status === 403 || response.status === 429 ? 'Rate limited: try again later.' : 'Check GITHUB_API_URL and try again later.',
  })
}
