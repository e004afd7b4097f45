import {checkGithubTokenFormat, checkGithubTokenOnline, isGithubToken} from '../oauth/github-token.js'
import {type DecodedJwt, type VerificationKey, JwtProblem, decodeJwt, looksLikeJwt, verifyJwt} from './codec.js'
import {formatDuration, formatTime} from '../output.js'
import {accessTokenKey} from '../store/records.js'

/**
 * Checks tokens the way the services that receive them would: a gateway JWT
 * by its signature, claims and Redis record; a GitHub token by its format
 * and, when asked, by GitHub itself. Each token gets a verdict and one reason.
 */

export interface NamedToken {
  /** The variable it came from (`MCP_CLIENT_ACCESS_TOKEN`), or `stdin`. */
  name: string
  value: string
}

export interface TokenValidation {
  name: string
  kind: 'jwt' | 'github'
  valid: boolean
  /** Why it is invalid; null when valid. */
  reason: string | null
  subject: string | null
  username: string | null
  client_id: string | null
  jti: string | null
  /** The aud claim as a list: the issuer on the older gateway, the resource(s) on the newer one; null when absent or not a JWT. */
  audience: string[] | null
  expires_at: number | null
  /** The steps run, in order (signature, iss, exp and jti are one step): an invalid token stops at its last step. */
  checks: string[]
}

export interface ValidationContext {
  /** The gateway's key; called only when there is a JWT to verify (a missing key is then exit 4). */
  verificationKey: () => Promise<VerificationKey>
  clockToleranceSeconds: number
  /** Check the audience the way the newer gateway's /verify does: the token's aud must name this resource. */
  resource?: string
  /** The gateway's revocation check; undefined skips it (`--no-redis`). */
  accessTokenExists?: (jti: string) => Promise<boolean>
  /** `<NAME>_EXPIRES_AT` of an opaque token, in epoch seconds, when known. */
  expiresAtOf: (name: string) => number | undefined
  github: {online: boolean; apiUrl?: string}
}

export async function validateToken(token: NamedToken, context: ValidationContext): Promise<TokenValidation> {
  const value = token.value.trim()
  const github = isGithubToken(value) || (!looksLikeJwt(value) && token.name.startsWith('GITHUB_'))
  return github ? validateGithubToken(token.name, value, context) : validateGatewayJwt(token.name, value, context)
}

async function validateGatewayJwt(name: string, token: string, context: ValidationContext): Promise<TokenValidation> {
  const result = emptyResult(name, 'jwt')
  result.checks.push('format')
  let decoded: DecodedJwt
  try {
    decoded = decodeJwt(token)
  } catch (error) {
    return invalid(result, error)
  }
  const {claims} = decoded
  Object.assign(result, {
    subject: stringOrNull(claims.sub),
    username: stringOrNull(claims.username),
    client_id: stringOrNull(claims.client_id),
    jti: stringOrNull(claims.jti),
    audience: audienceOf(claims.aud),
    expires_at: typeof claims.exp === 'number' ? claims.exp : null,
  })
  result.checks.push('signature', 'iss', 'exp', 'jti')
  try {
    await verifyJwt(token, await context.verificationKey(), {clockToleranceSeconds: context.clockToleranceSeconds})
  } catch (error) {
    return invalid(result, error)
  }
  if (context.resource !== undefined) {
    result.checks.push('aud')
    if (!result.audience?.includes(context.resource)) {
      const audience = result.audience?.join(', ') ?? 'none'
      return {...result, reason: `not for ${context.resource}: its audience is ${audience} (the newer gateway's /verify answers 403 invalid_audience)`}
    }
  }
  if (context.accessTokenExists) {
    result.checks.push('redis')
    if (!(await context.accessTokenExists(result.jti!))) {
      return {...result, reason: `revoked: ${accessTokenKey(result.jti!)} is gone from Redis`}
    }
  }
  return {...result, valid: true}
}

async function validateGithubToken(name: string, token: string, context: ValidationContext): Promise<TokenValidation> {
  const result = emptyResult(name, 'github')
  result.checks.push('format')
  const format = checkGithubTokenFormat(token)
  if (!format.ok) return {...result, reason: format.problem}
  const expiresAt = context.expiresAtOf(name)
  if (expiresAt !== undefined) {
    result.expires_at = expiresAt
    result.checks.push('exp')
    const now = Date.now() / 1000
    if (expiresAt <= now) return {...result, reason: `expired ${formatDuration(now - expiresAt)} ago (${formatTime(expiresAt)})`}
  }
  if (context.github.online) {
    result.checks.push('github /user')
    const answer = await checkGithubTokenOnline(token, context.github.apiUrl)
    if (!answer.ok) return {...result, reason: answer.problem}
    result.username = answer.login
  }
  return {...result, valid: true}
}

function emptyResult(name: string, kind: TokenValidation['kind']): TokenValidation {
  return {name, kind, valid: false, reason: null, subject: null, username: null, client_id: null, jti: null, audience: null, expires_at: null, checks: []}
}

/** A JwtProblem is a verdict on the token; anything else (JWKS unreachable, a bug) stops the command. */
function invalid(result: TokenValidation, error: unknown): TokenValidation {
  if (!(error instanceof JwtProblem)) throw error
  return {...result, reason: error.reason}
}

function audienceOf(aud: unknown): string[] | null {
  if (typeof aud === 'string') return [aud]
  if (Array.isArray(aud) && aud.every((item) => typeof item === 'string')) return aud as string[]
  return null
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : value === undefined || value === null ? null : String(value)
}
