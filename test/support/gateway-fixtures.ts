import {randomBytes} from 'node:crypto'

import type {RedisClient} from '../../src/redis/client.js'

/** Identifiers shaped like the gateway's (Python `secrets.token_urlsafe`). */
export const urlSafeId = (bytes: number): string => randomBytes(bytes).toString('base64url')
export const newClientId = (): string => `client_${urlSafeId(16)}`
export const newJti = (): string => urlSafeId(16)
export const newSecret = (): string => urlSafeId(32)
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** Python's json.dumps spacing, so fixtures are byte-for-byte what the gateway writes. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}: ${pythonJson(item)}`)
      .join(', ')}}`
  }
  return JSON.stringify(value ?? null)
}

/** Writes records the way the gateway's auth service does (DESIGN.md, Redis data model). */
export class GatewayFixtures {
  constructor(readonly redis: RedisClient) {}

  async client(options: {name?: string; ttl?: number | null; secretExpiresAt?: number; extra?: Record<string, unknown>} = {}) {
    const clientId = newClientId()
    const now = nowSeconds()
    const record = {
      client_id: clientId,
      client_secret: newSecret(),
      client_secret_expires_at: options.secretExpiresAt ?? 0,
      client_id_issued_at: now,
      redirect_uris: pythonJson(['http://127.0.0.1:8080/callback']),
      client_name: options.name ?? 'Claude Code',
      scope: 'openid profile email',
      created_at: now,
      response_types: pythonJson(['code']),
      grant_types: pythonJson(['authorization_code', 'refresh_token']),
      registration_access_token: newSecret(),
      ...options.extra,
    }
    await this.set(`oauth:client:${clientId}`, record, options.ttl === undefined ? 7_776_000 : options.ttl)
    return {clientId, record}
  }

  /** An access token record plus its user index entry; `refreshed` omits email and name as the gateway does. */
  async accessToken(options: {
    username: string
    clientId: string
    expiresIn?: number
    ttl?: number | null
    refreshed?: boolean
    email?: string | null
    index?: boolean
    jti?: string
  }) {
    const jti = options.jti ?? newJti()
    const now = nowSeconds()
    const expiresIn = options.expiresIn ?? 86_400
    const identity = options.refreshed
      ? {}
      : {email: options.email === undefined ? `${options.username}@example.com` : options.email, name: `${options.username} Example`}
    const record = {
      sub: String(1000 + options.username.length),
      username: options.username,
      ...identity,
      scope: 'openid profile email',
      client_id: options.clientId,
      created_at: now,
      expires_at: now + expiresIn,
    }
    await this.set(`oauth:token:${jti}`, record, options.ttl === undefined ? Math.max(expiresIn, 1) : options.ttl)
    if (options.index !== false) await this.redis.sadd(`oauth:user_tokens:${options.username}`, jti)
    return {jti, record}
  }

  async refreshToken(options: {username: string; clientId: string; ttl?: number | null; createdAt?: number}) {
    const token = newSecret()
    const record = {
      user_id: '1001',
      username: options.username,
      client_id: options.clientId,
      scope: 'openid profile email',
      created_at: options.createdAt ?? nowSeconds(),
    }
    await this.set(`oauth:refresh:${token}`, record, options.ttl === undefined ? 2_592_000 : options.ttl)
    return {token, record}
  }

  async code(options: {clientId: string; username: string; ttl?: number | null}) {
    const code = newSecret()
    const record = {
      client_id: options.clientId,
      redirect_uri: 'http://127.0.0.1:8080/callback',
      scope: 'openid profile email',
      state: urlSafeId(16),
      code_challenge: urlSafeId(32),
      code_challenge_method: 'S256',
      user_id: '1001',
      username: options.username,
      email: null,
      name: null,
    }
    await this.set(`oauth:code:${code}`, record, options.ttl === undefined ? 31_536_000 : options.ttl)
    return {code, record}
  }

  async state(options: {clientId: string; ttl?: number | null}) {
    const state = urlSafeId(16)
    const record = {
      client_id: options.clientId,
      redirect_uri: 'http://127.0.0.1:8080/callback',
      scope: 'openid',
      state,
      code_challenge: urlSafeId(32),
      code_challenge_method: 'S256',
    }
    await this.set(`oauth:state:${state}`, record, options.ttl === undefined ? 300 : options.ttl)
    return {state, record}
  }

  private async set(key: string, record: unknown, ttl: number | null): Promise<void> {
    if (ttl === null) await this.redis.set(key, pythonJson(record))
    else await this.redis.set(key, pythonJson(record), 'EX', ttl)
  }
}
