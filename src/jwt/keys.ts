import {type KeyObject, createPrivateKey, createPublicKey, generateKeyPair, randomBytes} from 'node:crypto'
import {promisify} from 'node:util'

/**
 * The gateway's signing material: `GATEWAY_JWT_SECRET` (HS256) and
 * `JWT_PRIVATE_KEY_B64` (RS256, base64 of an unencrypted PEM private key).
 */

export const MIN_RSA_BITS = 2048
const URL_SAFE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Values in `.env.example` files and docs that mean "not set yet". */
const PLACEHOLDER = /^(your[_-]?\w*|change[_-]?me\w*|changeme|replace[_-]?me\w*|placeholder\w*|todo|xxx+|\.\.\.|<[^>]*>|\$\{[^}]*\})$/i

export function isPlaceholder(value: string | undefined): boolean {
  return value === undefined || value.trim() === '' || PLACEHOLDER.test(value.trim())
}

/** `length` characters from [A-Za-z0-9_-], from the CSPRNG, without modulo bias (64 symbols = 6 bits). */
export function generateSecret(length = 64): string {
  const bytes = randomBytes(length)
  let secret = ''
  for (const byte of bytes) secret += URL_SAFE_ALPHABET[byte & 63]
  return secret
}

export type DecodedKey = {ok: true; key: KeyObject; bits: number} | {ok: false; problem: string}

/** Reads `JWT_PRIVATE_KEY_B64` and says exactly what is wrong when it cannot be used. */
export function decodePrivateKeyB64(encoded: string | undefined): DecodedKey {
  if (isPlaceholder(encoded)) return {ok: false, problem: 'not set (missing or a placeholder)'}
  const compact = encoded!.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) return {ok: false, problem: 'not valid base64'}
  const pem = Buffer.from(compact, 'base64').toString('utf8')
  if (!pem.includes('-----BEGIN')) return {ok: false, problem: 'base64 does not decode to a PEM key'}
  if (/ENCRYPTED/.test(pem)) return {ok: false, problem: 'the PEM key is encrypted; the gateway needs an unencrypted key'}
  if (!/-----END [A-Z ]*PRIVATE KEY-----/.test(pem)) return {ok: false, problem: 'PEM is truncated or not a private key'}
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    return {ok: false, problem: 'PEM private key cannot be parsed (truncated or corrupt?)'}
  }
  if (key.asymmetricKeyType !== 'rsa') return {ok: false, problem: `key type is ${key.asymmetricKeyType}, RS256 needs RSA`}
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) return {ok: false, problem: `RSA key has ${bits} bits, at least ${MIN_RSA_BITS} are required`}
  return {ok: true, key, bits}
}

export async function generateRsaKey(bits: number): Promise<{privateKey: KeyObject; encoded: string}> {
  const {privateKey} = await promisify(generateKeyPair)('rsa', {modulusLength: bits, publicExponent: 0x10001})
  return {privateKey, encoded: encodePrivateKeyB64(privateKey)}
}

/** Single-line base64 of the PKCS8 PEM, as `JWT_PRIVATE_KEY_B64` holds it. */
export function encodePrivateKeyB64(privateKey: KeyObject): string {
  const pem = privateKey.export({type: 'pkcs8', format: 'pem'}) as string
  return Buffer.from(pem, 'utf8').toString('base64')
}

export function publicKeyPem(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({type: 'spki', format: 'pem'}) as string
}

/** The public JWK as the gateway's `/jwks` lists it (RS256, no kid). */
export function publicJwk(privateKey: KeyObject): {kty: string; n: string; e: string; alg: string; use: string} {
  const {kty, n, e} = createPublicKey(privateKey).export({format: 'jwk'}) as {kty: string; n: string; e: string}
  return {kty, n, e, alg: 'RS256', use: 'sig'}
}
