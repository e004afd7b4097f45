import {spawnSync} from 'node:child_process'
import {type KeyObject, createHmac, createPublicKey, createSign, generateKeyPairSync, randomBytes} from 'node:crypto'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Tokens built by hand with node:crypto (and checked with the openssl CLI),
 * never with src/jwt.ts: the code under test and the tests cannot then agree
 * on the same mistake.
 */

export const BASE_DOMAIN = 'gateway.test'
export const ISSUER = `https://auth.${BASE_DOMAIN}`
export const HS256_SECRET = 'x'.repeat(20) + randomBytes(22).toString('base64url')

export interface RsaKeyPair {
  privateKey: KeyObject
  publicKeyPem: string
  /** What JWT_PRIVATE_KEY_B64 holds: base64 of the PKCS8 PEM. */
  privateKeyB64: string
}

export function rsaKeyPair(bits = 2048): RsaKeyPair {
  const {privateKey} = generateKeyPairSync('rsa', {modulusLength: bits})
  const pem = privateKey.export({type: 'pkcs8', format: 'pem'}) as string
  return {
    privateKey,
    publicKeyPem: createPublicKey(privateKey).export({type: 'spki', format: 'pem'}) as string,
    privateKeyB64: Buffer.from(pem).toString('base64'),
  }
}

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** Claims as the gateway's token endpoint issues them. */
export function gatewayClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds()
  return {
    sub: '4242',
    username: 'alice',
    email: 'alice@example.com',
    name: 'Alice Example',
    scope: 'openid profile email',
    client_id: 'client_AbCdEfGhIjKlMnOpQrStUv',
    jti: randomBytes(16).toString('base64url'),
    iat: now,
    exp: now + 3600,
    iss: ISSUER,
    aud: ISSUER,
    ...overrides,
  }
}

export function handSignedRs256(claims: Record<string, unknown>, privateKey: KeyObject, header: Record<string, unknown> = {alg: 'RS256', typ: 'JWT'}): string {
  const signingInput = `${segment(header)}.${segment(claims)}`
  const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey)
  return `${signingInput}.${signature.toString('base64url')}`
}

export function handSignedHs256(
  claims: Record<string, unknown>,
  secret: string | Buffer,
  header: Record<string, unknown> = {alg: 'HS256', typ: 'JWT'},
): string {
  const signingInput = `${segment(header)}.${segment(claims)}`
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`
}

/** `alg: none`, with or without a trailing signature segment. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${segment({alg: 'none', typ: 'JWT'})}.${segment(claims)}.`
}

export function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'))
}

/** Verifies an RS256 JWT with `openssl dgst -sha256 -verify`: an implementation that shares nothing with jose. */
export async function opensslVerifiesRs256(token: string, publicKeyPem: string): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-openssl-'))
  const [header, payload, signature] = token.split('.')
  await writeFile(join(dir, 'pubkey.pem'), publicKeyPem)
  await writeFile(join(dir, 'signing-input.txt'), `${header}.${payload}`)
  await writeFile(join(dir, 'sig.bin'), Buffer.from(signature, 'base64url'))
  const result = spawnSync('openssl', ['dgst', '-sha256', '-verify', 'pubkey.pem', '-signature', 'sig.bin', 'signing-input.txt'], {cwd: dir, encoding: 'utf8'})
  if (result.error) throw result.error
  return result.status === 0 && /Verified OK/.test(result.stdout)
}

/** A `.env` in a fresh temp dir; returns the directory (run the CLI with it as cwd). */
export async function envDir(lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-jwt-'))
  await writeFile(join(dir, '.env'), lines.length > 0 ? `${lines.join('\n')}\n` : '')
  return dir
}

/** The gateway settings an RS256 deployment has in its `.env`. */
export function rs256Settings(keys: RsaKeyPair): string[] {
  return [`BASE_DOMAIN=${BASE_DOMAIN}`, 'JWT_ALGORITHM=RS256', `JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`]
}

export function hs256Settings(secret = HS256_SECRET): string[] {
  return [`BASE_DOMAIN=${BASE_DOMAIN}`, 'JWT_ALGORITHM=HS256', `GATEWAY_JWT_SECRET=${secret}`]
}
