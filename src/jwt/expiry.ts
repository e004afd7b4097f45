import {type GatewayClaims, JwtProblem, decodeJwt, looksLikeJwt} from './codec.js'
import {toEpochSeconds} from '../time.js'

/**
 * When the tokens in a `.env` expire: every value that is a JWT (by its
 * header, never by its name), and opaque tokens whose expiry the gateway's
 * tools store beside them as `<NAME>_EXPIRES_AT` (epoch seconds).
 */

export type ExpiryStatus = 'ok' | 'expiring' | 'expired' | 'no_expiry' | 'unreadable'

export interface TokenExpiry {
  name: string
  kind: 'jwt' | 'opaque'
  issued_at: number | null
  expires_at: number | null
  /** Negative once expired. */
  seconds_left: number | null
  status: ExpiryStatus
  problem: string | null
}

export const EXPIRES_AT_SUFFIX = '_EXPIRES_AT'

/** Keys that hold signing material or passwords: never reported as tokens, whatever they look like. */
const SECRET_NAME = /(SECRET|PASSWORD|PRIVATE_KEY)/

/** A status that should fail a check: expired, about to, or a token that cannot be read. */
export function needsAttention(expiry: TokenExpiry): boolean {
  return expiry.status === 'expired' || expiry.status === 'expiring' || expiry.status === 'unreadable'
}

export function findTokenExpiries(values: ReadonlyMap<string, string>, options: {withinSeconds: number; now?: number}): TokenExpiry[] {
  const now = options.now ?? Date.now() / 1000
  const expiries: TokenExpiry[] = []
  for (const [name, value] of values) {
    if (SECRET_NAME.test(name) || value === '') continue
    if (looksLikeJwt(value)) {
      expiries.push(jwtExpiry(name, value, now, options.withinSeconds))
      continue
    }
    const expiresAtName = `${name}${EXPIRES_AT_SUFFIX}`
    if (!name.endsWith(EXPIRES_AT_SUFFIX) && values.has(expiresAtName)) {
      expiries.push(opaqueExpiry(name, expiresAtName, values.get(expiresAtName)!, now, options.withinSeconds))
    }
  }
  return expiries
}

function jwtExpiry(name: string, token: string, now: number, withinSeconds: number): TokenExpiry {
  let claims: GatewayClaims
  try {
    claims = decodeJwt(token).claims
  } catch (error) {
    if (!(error instanceof JwtProblem)) throw error
    return {name, kind: 'jwt', issued_at: null, expires_at: null, seconds_left: null, status: 'unreadable', problem: error.reason}
  }
  const issuedAt = typeof claims.iat === 'number' ? claims.iat : null
  if (typeof claims.exp !== 'number') {
    return {name, kind: 'jwt', issued_at: issuedAt, expires_at: null, seconds_left: null, status: 'no_expiry', problem: 'no exp claim'}
  }
  return withStatus({name, kind: 'jwt', issued_at: issuedAt, expires_at: claims.exp}, now, withinSeconds)
}

function opaqueExpiry(name: string, expiresAtName: string, raw: string, now: number, withinSeconds: number): TokenExpiry {
  const expiresAt = toEpochSeconds(raw)
  if (expiresAt === undefined) {
    return {
      name,
      kind: 'opaque',
      issued_at: null,
      expires_at: null,
      seconds_left: null,
      status: 'unreadable',
      problem: `${expiresAtName} is not a time between 1970 and 9999`,
    }
  }
  return withStatus({name, kind: 'opaque', issued_at: null, expires_at: Math.floor(expiresAt)}, now, withinSeconds)
}

function withStatus(token: Pick<TokenExpiry, 'name' | 'kind' | 'issued_at'> & {expires_at: number}, now: number, withinSeconds: number): TokenExpiry {
  const secondsLeft = Math.floor(token.expires_at - now)
  const status: ExpiryStatus = secondsLeft <= 0 ? 'expired' : secondsLeft <= withinSeconds ? 'expiring' : 'ok'
  return {...token, seconds_left: secondsLeft, status, problem: null}
}
