import {Redis, type RedisOptions} from 'ioredis'

import type {Settings} from './config.js'
import {unreachableError, usageError} from './errors.js'

/** Where Redis is, from flags, environment or `.env`. The password is never printed. */
export interface RedisTarget {
  host: string
  port: number
  db: number
  username?: string
  password?: string
  tls: boolean
}

export interface RedisFlagValues {
  redisUrl?: string
  redisHost?: string
  redisPort?: number
  redisDb?: number
}

const CONNECT_TIMEOUT_MS = 5000
const COMMAND_TIMEOUT_MS = 60_000

/**
 * Flags win over settings. `REDIS_URL` gives the base; `REDIS_HOST`,
 * `REDIS_PORT`, `REDIS_DB` and `REDIS_PASSWORD` fill what it leaves out.
 */
export function resolveRedisTarget(settings: Settings, flags: RedisFlagValues = {}): RedisTarget {
  const url = flags.redisUrl ?? settings.get('REDIS_URL')
  const target: RedisTarget = url ? parseRedisUrl(url) : {host: '127.0.0.1', port: 6379, db: 0, tls: false}
  if (!url) {
    target.host = settings.get('REDIS_HOST') ?? target.host
    target.port = parsePort(settings.get('REDIS_PORT') ?? String(target.port))
    target.db = parseDb(settings.get('REDIS_DB') ?? '0')
  }
  if (flags.redisHost) target.host = flags.redisHost
  if (flags.redisPort !== undefined) target.port = flags.redisPort
  if (flags.redisDb !== undefined) target.db = flags.redisDb
  target.password ??= settings.get('REDIS_PASSWORD')
  return target
}

/** `redis://user:***@host:port/db`: safe for messages and logs. */
export function describeRedisTarget(target: RedisTarget): string {
  const scheme = target.tls ? 'rediss' : 'redis'
  const credentials = target.password ? `${target.username ?? ''}:***@` : target.username ? `${target.username}@` : ''
  return `${scheme}://${credentials}${target.host}:${target.port}/${target.db}`
}

/** Opens a connection and proves it works (PING), failing fast with a clear reason. */
export async function connectRedis(target: RedisTarget): Promise<Redis> {
  const client = new Redis(toIoredisOptions(target))
  let lastError: Error | undefined
  client.on('error', (error: Error) => {
    lastError = error
  })
  try {
    await client.connect()
    await client.ping()
    return client
  } catch (error) {
    client.disconnect()
    throw explainConnectionFailure(target, (lastError ?? error) as Error)
  }
}

export async function closeRedis(client: Redis | undefined): Promise<void> {
  if (!client) return
  try {
    await client.quit()
  } catch {
    client.disconnect()
  }
}

function toIoredisOptions(target: RedisTarget): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    username: target.username,
    password: target.password,
    tls: target.tls ? {servername: target.host} : undefined,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // ioredis otherwise keeps a failed socket's process alive for 2 s.
    disconnectTimeout: 200,
  }
}

function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw usageError(`REDIS_URL is not a valid URL (expected redis://host:port/db).`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw usageError(`REDIS_URL must start with redis:// or rediss://, not ${parsed.protocol}//.`)
  }
  const dbPath = parsed.pathname.replace(/^\//, '')
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? parsePort(parsed.port) : 6379,
    db: dbPath ? parseDb(dbPath) : 0,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:',
  }
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw usageError(`Redis port must be 1-65535, not "${text}".`)
  return port
}

function parseDb(text: string): number {
  const db = Number(text)
  if (!Number.isInteger(db) || db < 0) throw usageError(`Redis database must be a number, not "${text}".`)
  return db
}

function explainConnectionFailure(target: RedisTarget, error: Error): Error {
  const where = describeRedisTarget(target)
  const code = (error as NodeJS.ErrnoException).code
  const message = error.message ?? String(error)
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return unreachableError(
      `Cannot resolve Redis host "${target.host}" (${where}).`,
      target.host === 'redis'
        ? 'In a compose setup "redis" only resolves inside the compose network. From your shell use --redis-url redis://127.0.0.1:6379 (with the port published) or set REDIS_URL in the environment.'
        : 'Check REDIS_URL / REDIS_HOST, or pass --redis-url.',
      error,
    )
  }
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return unreachableError(`Redis at ${where} refused the credentials.`, 'Check REDIS_PASSWORD (and the ACL user in REDIS_URL).', error)
  }
  if (code === 'ECONNREFUSED') {
    return unreachableError(`Cannot connect to Redis at ${where}: connection refused.`, 'Is Redis running and is its port published to this machine?', error)
  }
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return unreachableError(`Redis at ${where} did not answer within ${CONNECT_TIMEOUT_MS / 1000}s.`, undefined, error)
  }
  return unreachableError(`Cannot use Redis at ${where}: ${message}`, undefined, error)
}
