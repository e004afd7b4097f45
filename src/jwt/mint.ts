import {randomBytes} from 'node:crypto'

import type {Redis} from 'ioredis'

import {type EnvUpdateResult, updateEnvFile} from '../env/env-file.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {type GatewayClaims, type SigningKey, signJwt} from './codec.js'
import {type AccessTokenRecord, accessTokenKey, userIndexKey} from '../store/records.js'

/**
 * The four commands minting needs. A single server and a Cluster both have
 * them; the record and the index live in different hash slots, so they are
 * written one after the other (as the gateway does), not in one MULTI.
 */
export type TokenRegistry = Pick<Redis, 'set' | 'sadd' | 'del' | 'srem'>

/**
 * Minting an access token the way the gateway's token endpoint does: the
 * same claims, the same `oauth:token:{jti}` record with a TTL of the token's
 * lifetime, and the jti in `oauth:user_tokens:{username}`, so the gateway's
 * verifier accepts it. For CI and bots that cannot open a browser.
 */

export interface MintRequest {
  /** The GitHub numeric id as a string, as the gateway puts it in `sub`. */
  sub: string
  username: string
  email: string | null
  name: string | null
  scope: string
  clientId: string
  lifetimeSeconds: number
  /** Extra claims from `TOKEN_CUSTOM_CLAIMS`; reserved claims are refused by parseCustomClaims. */
  customClaims?: Record<string, unknown>
  /**
   * The token shape of the gateway version in use. `older`: aud = the
   * issuer, no azp. `newer` (the OAUTH_* version, RFC 8707): aud = the
   * resource(s) asked for (the issuer when none), azp = the client id, and
   * the record keeps `resources`. Default older.
   */
  gatewayVersion?: GatewayVersion
  /** RFC 8707 resources (newer gateways only): the MCP servers the token is for. */
  resources?: string[]
}

export type GatewayVersion = 'older' | 'newer'

export interface MintedToken {
  token: string
  jti: string
  claims: GatewayClaims
  record: AccessTokenRecord
}

/** Claims the gateway sets itself; custom claims may not replace them. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'sub',
  'username',
  'email',
  'name',
  'scope',
  'client_id',
  'jti',
  'iat',
  'exp',
  'nbf',
  'iss',
  'aud',
  'azp',
])

/** `TOKEN_CUSTOM_CLAIMS` is a JSON object of extra claims; anything else, or a reserved claim, is a usage error. */
export function parseCustomClaims(json: string | undefined, settingName = 'TOKEN_CUSTOM_CLAIMS'): Record<string, unknown> {
  if (json === undefined || json.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw usageError(`${settingName} is not valid JSON.`, `Write it as a JSON object, e.g. ${settingName}='{"org": "mycompany"}'.`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw usageError(`${settingName} must be a JSON object of claim names to values.`)
  }
  const reserved = Object.keys(parsed).filter((claim) => RESERVED_CLAIMS.has(claim))
  if (reserved.length > 0) {
    throw usageError(`${settingName} may not set ${reserved.join(', ')}: the gateway sets ${reserved.length === 1 ? 'that claim' : 'those claims'} itself.`)
  }
  return parsed as Record<string, unknown>
}

/**
 * Signs a token, registers it in Redis, then hands it to `persist` (e.g. to
 * write `.env`). If `persist` fails the Redis record is removed again, so a
 * token nobody holds never stays valid.
 */
export async function mintAccessToken<T>(
  redis: TokenRegistry,
  signing: {key: SigningKey; issuer: string},
  request: MintRequest,
  persist: (minted: MintedToken) => Promise<T>,
): Promise<MintedToken & {persisted: T}> {
  validateRequest(request)
  const jti = randomBytes(16).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const expiresAt = now + request.lifetimeSeconds
  const identity = {sub: request.sub, username: request.username, email: request.email, name: request.name, scope: request.scope, client_id: request.clientId}
  const newer = request.gatewayVersion === 'newer'
  const resources = request.resources ?? []
  const audience = newer && resources.length > 0 ? (resources.length === 1 ? resources[0] : resources) : signing.issuer
  const claims: GatewayClaims = {...identity, ...request.customClaims, jti, iat: now, exp: expiresAt, iss: signing.issuer, aud: audience}
  if (newer) claims.azp = request.clientId
  const record: AccessTokenRecord = newer
    ? {...identity, resources, created_at: now, expires_at: expiresAt}
    : {...identity, created_at: now, expires_at: expiresAt}
  const token = await signJwt(claims, signing.key)
  await registerAccessToken(redis, jti, record, request.lifetimeSeconds)
  const minted = {token, jti, claims, record}
  try {
    return {...minted, persisted: await persist(minted)}
  } catch (error) {
    await unregisterAfterFailure(redis, jti, request.username, error)
    throw error
  }
}

/** Writes the token into `.env` under `name` (atomic, locked, other lines kept); a failed write is exit 4. */
export async function saveTokenToEnvFile(path: string, name: string, token: string): Promise<EnvUpdateResult> {
  try {
    return await updateEnvFile(path, () => ({[name]: token}))
  } catch (error) {
    if (error instanceof McpAuthError) throw error
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new McpAuthError(`Cannot write ${path}: ${reason}.`, {
      code: 'env_unwritable',
      exitCode: ExitCode.unreachable,
      hint: 'Check that the directory is writable, or use --print to get the token on stdout instead.',
      cause: error,
    })
  }
}

/**
 * `oauth:token:{jti}` with the gateway's JSON and TTL, then the jti in the
 * user's index. If the index cannot be written the record goes again, so a
 * failure leaves nothing behind.
 */
export async function registerAccessToken(redis: TokenRegistry, jti: string, record: AccessTokenRecord, ttlSeconds: number): Promise<void> {
  await redis.set(accessTokenKey(jti), gatewayJson(record), 'EX', ttlSeconds)
  try {
    await redis.sadd(userIndexKey(record.username), jti)
  } catch (error) {
    await redis.del(accessTokenKey(jti)).catch(() => {})
    throw error
  }
}

/** The record first: once it is gone the gateway refuses the token, whatever happens to the index. */
export async function unregisterAccessToken(redis: TokenRegistry, jti: string, username: string): Promise<void> {
  await redis.del(accessTokenKey(jti))
  await redis.srem(userIndexKey(username), jti)
}

/**
 * JSON as Python's `json.dumps` writes it (`", "` and `": "`, non-ASCII
 * escaped), so a minted record is byte for byte what the gateway stores.
 */
export function gatewayJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(gatewayJson).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, item]) => `${asciiJson(key)}: ${gatewayJson(item)}`)
      .join(', ')}}`
  }
  return asciiJson(value ?? null)
}

function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function validateRequest(request: MintRequest): void {
  if (request.resources && request.resources.length > 0 && request.gatewayVersion !== 'newer') {
    throw usageError(
      "--resource needs the newer gateway: the older one's tokens always carry aud = its issuer.",
      'Pass --gateway-version newer if the gateway reads the OAUTH_* settings.',
    )
  }
  for (const resource of request.resources ?? []) {
    if (!/^https?:\/\/[^\s]+$/.test(resource)) throw usageError(`--resource takes the URL of an MCP server, not "${resource}".`)
  }
  if (!/^[^\s*?[\]]+$/.test(request.username)) throw usageError(`"${request.username}" is not a username: give the exact GitHub login.`)
  if (request.sub.trim() === '') throw usageError('--sub may not be empty.')
  if (request.clientId.trim() === '') throw usageError('--client-id may not be empty.')
  if (!Number.isInteger(request.lifetimeSeconds) || request.lifetimeSeconds <= 0) {
    throw usageError(`The token lifetime must be a positive number of seconds, not ${request.lifetimeSeconds}.`)
  }
}

async function unregisterAfterFailure(redis: TokenRegistry, jti: string, username: string, cause: unknown): Promise<void> {
  try {
    await unregisterAccessToken(redis, jti, username)
  } catch (cleanupError) {
    throw new McpAuthError(
      `${(cause as Error).message} The minted token's record oauth:token:${jti} could not be removed either: ${(cleanupError as Error).message}`,
      {code: 'mint_orphan', exitCode: ExitCode.unreachable, hint: `Remove it with "mcpauth oauth-delete-token ${jti} --yes" once Redis is back.`, cause},
    )
  }
}
