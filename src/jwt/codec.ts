import type {KeyObject} from 'node:crypto'

import type {JWTVerifyGetKey} from 'jose'

import {describeNetworkCode, unreachableError} from '../errors.js'
import {formatDuration, formatTime} from '../output.js'
import {isPlausibleEpoch} from '../time.js'

/**
 * JWTs exactly as the gateway issues and checks them (DESIGN.md, "JWTs"):
 * RS256 by default or HS256, a header without `kid`, and a verifier that
 * checks the signature with the one configured algorithm, `iss`, `exp` and
 * `jti`. jose is imported inside the functions that need it, so commands
 * that never touch a JWT do not pay for loading it.
 */

export const GATEWAY_ALGORITHMS = ['RS256', 'HS256'] as const
export type GatewayAlgorithm = (typeof GATEWAY_ALGORITHMS)[number]

export interface JwtHeader {
  alg: string
  typ?: string
  kid?: string
  [parameter: string]: unknown
}

/** The claims the gateway puts in an access token; other claims pass through. */
export interface GatewayClaims {
  sub?: string
  username?: string
  email?: string | null
  name?: string | null
  scope?: string
  client_id?: string
  jti?: string
  iat?: number
  exp?: number
  iss?: string
  aud?: string | string[]
  [claim: string]: unknown
}

export interface DecodedJwt {
  header: JwtHeader
  claims: GatewayClaims
}

export interface SigningKey {
  algorithm: GatewayAlgorithm
  key: KeyObject | Uint8Array
}

export interface VerificationKey {
  algorithm: GatewayAlgorithm
  issuer: string
  /** A public key or secret, or a JWKS fetched from the gateway's `/jwks`. */
  key: KeyObject | Uint8Array | JWTVerifyGetKey
  /** Where the key came from, for messages: `JWT_PRIVATE_KEY_B64`, a JWKS URL, ... */
  source: string
}

export interface VerifyOptions {
  clockToleranceSeconds?: number
}

/** Why a token is not acceptable, as one line for a table. Not an operator error: the check ran. */
export class JwtProblem extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'JwtProblem'
  }
}

const SEGMENT_NAMES = ['header', 'payload', 'signature'] as const
const BASE64URL = /^[A-Za-z0-9_-]*$/
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** True when the value is shaped like a JWT and its header is JSON with an `alg`: a secret never is. */
export function looksLikeJwt(value: string): boolean {
  if (!JWT_SHAPE.test(value)) return false
  const header = parseSegment(value.slice(0, value.indexOf('.')))
  return typeof header === 'object' && header !== null && typeof (header as JwtHeader).alg === 'string'
}

/** Header and claims without verifying anything; a token that cannot even be read throws a JwtProblem. */
export function decodeJwt(token: string): DecodedJwt {
  if (/\s/.test(token)) throw new JwtProblem('contains whitespace (a line break or a space pasted with it?)')
  const segments = token.split('.')
  if (segments.length !== 3) throw new JwtProblem(`has ${segments.length} segment${segments.length === 1 ? '' : 's'}; a JWT has 3 (header.payload.signature)`)
  segments.forEach((segment, index) => {
    if (!BASE64URL.test(segment) || segment.length % 4 === 1) throw new JwtProblem(`${SEGMENT_NAMES[index]} segment is not valid base64url`)
  })
  const header = parseSegment(segments[0])
  const claims = parseSegment(segments[1])
  if (!isJsonObject(header)) throw new JwtProblem(header === undefined ? 'header is not JSON' : 'header is not a JSON object')
  if (!isJsonObject(claims)) throw new JwtProblem(claims === undefined ? 'payload is not JSON' : 'payload is not a JSON object')
  if (typeof header.alg !== 'string' || header.alg === '') throw new JwtProblem('header has no alg')
  if (header.alg.toLowerCase() === 'none') throw new JwtProblem('alg is "none": an unsigned token is never accepted')
  if (segments[2] === '') throw new JwtProblem('has no signature')
  for (const claim of TIME_CLAIMS) {
    const problem = timeClaimProblem(claims[claim])
    if (problem) throw new JwtProblem(`${claim} ${problem}`)
  }
  return {header: header as JwtHeader, claims: claims as GatewayClaims}
}

/** Signs claims as the gateway does: `{"alg": ..., "typ": "JWT"}`, no `kid`, claims in the order given. */
export async function signJwt(claims: GatewayClaims, signingKey: SigningKey): Promise<string> {
  const {SignJWT} = await import('jose')
  return new SignJWT(claims).setProtectedHeader({alg: signingKey.algorithm, typ: 'JWT'}).sign(signingKey.key)
}

/**
 * Verifies a token the way the gateway's verifier does: signature with only
 * the configured algorithm (so `none` and an HS256 token made with a public
 * RSA key are refused), then `iss`, `exp` and `jti`. The Redis record is the
 * caller's check. Throws a JwtProblem with the first reason it finds; a JWKS
 * that cannot be fetched is an operator error (exit 4), not a bad token.
 */
export async function verifyJwt(token: string, verification: VerificationKey, options: VerifyOptions = {}): Promise<DecodedJwt> {
  const decoded = decodeJwt(token)
  if (decoded.header.alg !== verification.algorithm) {
    throw new JwtProblem(`signed with ${decoded.header.alg}, but the gateway uses ${verification.algorithm}: refused`)
  }
  const {jwtVerify} = await import('jose')
  try {
    await jwtVerify(token, verification.key as Parameters<typeof jwtVerify>[1], {
      algorithms: [verification.algorithm],
      issuer: verification.issuer,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: options.clockToleranceSeconds ?? 0,
    })
  } catch (error) {
    throw explainVerificationFailure(error, decoded, verification)
  }
  if (typeof decoded.claims.jti !== 'string' || decoded.claims.jti === '') throw new JwtProblem('jti is not a string')
  return decoded
}

/** A verdict on the token becomes a JwtProblem; a JWKS that could not be fetched is exit 4. */
function explainVerificationFailure(error: unknown, decoded: DecodedJwt, verification: VerificationKey): Error {
  const code = (error as {code?: string})?.code
  const claims = decoded.claims
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new JwtProblem(`signature does not match ${verification.source}`)
    case 'ERR_JWT_EXPIRED':
      return new JwtProblem(`expired ${formatDuration(Date.now() / 1000 - Number(claims.exp))} ago (${formatTime(Number(claims.exp))})`)
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return explainClaimFailure(error as {claim: string; reason: string; message: string}, claims, verification)
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new JwtProblem(`signed with ${decoded.header.alg}, but the gateway uses ${verification.algorithm}: refused`)
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new JwtProblem(`no ${verification.algorithm} key in ${verification.source} can verify it`)
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new JwtProblem(`not a valid JWT: ${(error as Error).message}`)
    case 'ERR_JWKS_TIMEOUT':
      return unreachableError(`No answer from the JWKS at ${verification.source} in time.`, 'Check --jwks-url and your network.', error)
    case 'ERR_JWKS_INVALID':
      return unreachableError(`${verification.source} did not return a JSON Web Key Set.`, "Point --jwks-url at the gateway's /jwks.", error)
    default:
      if (typeof verification.key === 'function' && (error instanceof TypeError || code === 'ERR_JOSE_GENERIC')) {
        const systemCode = (error as {cause?: {code?: string}}).cause?.code
        const detail = systemCode ? describeNetworkCode(systemCode) : (error as Error).message
        return unreachableError(`Cannot fetch the JWKS at ${verification.source}: ${detail}.`, 'Check --jwks-url and your network.', error)
      }
      return error as Error
  }
}

function explainClaimFailure(error: {claim: string; reason: string; message: string}, claims: GatewayClaims, verification: VerificationKey): JwtProblem {
  if (error.reason === 'missing') return new JwtProblem(`no ${error.claim} claim`)
  if (error.claim === 'iss') return new JwtProblem(`iss is ${JSON.stringify(claims.iss)}, expected "${verification.issuer}"`)
  if (error.claim === 'nbf') return new JwtProblem(`not valid before ${formatTime(Number(claims.nbf))}`)
  return new JwtProblem(`${error.claim}: ${error.message}`)
}

/** The NumericDate claims (RFC 7519 §4.1.4-6): seconds since 1970, never a string, never past the year 9999. */
const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const

function timeClaimProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') return `is not a number (${JSON.stringify(value)?.slice(0, 40)})`
  if (!isPlausibleEpoch(value)) return `is out of range (${String(value).slice(0, 40)})`
  return undefined
}

function parseSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
