import {createPublicKey} from 'node:crypto'

import type {Settings} from '../env/settings.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {type GatewayAlgorithm, type SigningKey, type VerificationKey, GATEWAY_ALGORITHMS} from './codec.js'
import {decodePrivateKeyB64, isPlaceholder} from './keys.js'
import {requireSecureUrl} from '../oauth/network.js'

/**
 * Where the gateway's signing material comes from: `JWT_ALGORITHM`,
 * `JWT_PRIVATE_KEY_B64` or `GATEWAY_JWT_SECRET` (or their `OAUTH_*` names),
 * and the issuer `https://auth.${BASE_DOMAIN}`. A key that cannot be read is
 * exit 4 (cannot read keys); a setting with an impossible value is exit 2.
 */

const JWKS_TIMEOUT_MS = 10_000

/** `https://auth.${BASE_DOMAIN}`, or the base URL in `GATEWAY_AUTH_URL` for non-standard deployments. */
export function gatewayIssuer(settings: Settings): string {
  const authUrl = settings.get('GATEWAY_AUTH_URL')
  if (authUrl) return authUrl.replace(/\/+$/, '')
  const baseDomain = settings.get('BASE_DOMAIN')
  if (!baseDomain || isPlaceholder(baseDomain)) {
    throw usageError(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the gateway's own notation for its issuer
      "BASE_DOMAIN is not set, so the gateway's issuer (https://auth.${BASE_DOMAIN}) is unknown.",
      `Set BASE_DOMAIN (or GATEWAY_AUTH_URL) in ${settings.envFilePath} or the environment.`,
    )
  }
  return `https://auth.${baseDomain}`
}

/** `JWT_ALGORITHM` (default RS256, as the gateway's). */
export function gatewayAlgorithm(settings: Settings): GatewayAlgorithm {
  const found = settings.lookup('JWT_ALGORITHM')
  const algorithm = (found?.value ?? 'RS256').trim().toUpperCase()
  if (!(GATEWAY_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw usageError(`${found?.name ?? 'JWT_ALGORITHM'} is "${found?.value}"; the gateway signs with RS256 or HS256.`)
  }
  return algorithm as GatewayAlgorithm
}

/** The private key (RS256) or the shared secret (HS256) the gateway signs with. */
export function gatewaySigningKey(settings: Settings, algorithm: GatewayAlgorithm = gatewayAlgorithm(settings)): SigningKey & {source: string} {
  if (algorithm === 'HS256') {
    const {value, name} = requireSecret(settings)
    return {algorithm, key: new TextEncoder().encode(value), source: name}
  }
  const found = settings.lookup('JWT_PRIVATE_KEY_B64')
  const name = found?.name ?? 'JWT_PRIVATE_KEY_B64'
  const decoded = decodePrivateKeyB64(found?.value)
  if (!decoded.ok) {
    throw new McpAuthError(`${name} cannot be used: ${decoded.problem}.`, {
      code: 'key_unreadable',
      exitCode: ExitCode.unreachable,
      hint: `Copy the gateway's JWT_PRIVATE_KEY_B64 into ${settings.envFilePath} (or the environment), or run "mcpauth generate-rsa-keys" for a new gateway.`,
    })
  }
  return {algorithm, key: decoded.key, source: name}
}

/**
 * What verifies the gateway's tokens: the public half of `JWT_PRIVATE_KEY_B64`,
 * the gateway's JWKS when `jwksUrl` is given (RS256 only), or the HS256 secret.
 */
export async function gatewayVerificationKey(settings: Settings, options: {jwksUrl?: string} = {}): Promise<VerificationKey> {
  const algorithm = gatewayAlgorithm(settings)
  const issuer = gatewayIssuer(settings)
  if (options.jwksUrl) {
    if (algorithm !== 'RS256') throw usageError('--jwks-url needs RS256: a JWKS holds public keys, and HS256 uses the shared GATEWAY_JWT_SECRET.')
    const url = requireSecureUrl(options.jwksUrl, '--jwks-url')
    const {createRemoteJWKSet} = await import('jose')
    return {algorithm, issuer, key: createRemoteJWKSet(url, {timeoutDuration: JWKS_TIMEOUT_MS}), source: url.href}
  }
  const signing = gatewaySigningKey(settings, algorithm)
  const key = algorithm === 'RS256' ? createPublicKey(signing.key as Parameters<typeof createPublicKey>[0]) : signing.key
  return {algorithm, issuer, key, source: signing.source}
}

function requireSecret(settings: Settings): {value: string; name: string} {
  const found = settings.lookup('GATEWAY_JWT_SECRET')
  if (!found || isPlaceholder(found.value)) {
    throw new McpAuthError(`${found?.name ?? 'GATEWAY_JWT_SECRET'} is not set (missing or a placeholder), and JWT_ALGORITHM is HS256.`, {
      code: 'key_unreadable',
      exitCode: ExitCode.unreachable,
      hint: `Copy the gateway's GATEWAY_JWT_SECRET into ${settings.envFilePath} (or the environment), or run "mcpauth generate-jwt-secret" for a new gateway.`,
    })
  }
  return {value: found.value, name: found.name}
}
