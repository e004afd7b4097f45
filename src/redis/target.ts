import type {Settings} from '../env/settings.js'
import {parseDuration} from '../time.js'
import {usageError} from '../errors.js'

export interface RedisNode {
  host: string
  port: number
}

/**
 * Where Redis is, from flags, environment or `.env`: one server, a cluster
 * (seed nodes), or a master found through Sentinel. The password is never printed.
 */
export interface RedisTarget {
  mode: 'standalone' | 'cluster' | 'sentinel'
  host: string
  port: number
  db: number
  username?: string
  password?: string
  tls: boolean
  caFile?: string
  /** Cluster seed nodes, or the sentinels. */
  nodes: RedisNode[]
  sentinelName?: string
  sentinelPassword?: string
  /** REDIS_COMMAND_TIMEOUT: how long a command may wait for its reply before the command ends with exit 4. */
  commandTimeoutMs?: number
}

export interface RedisFlagValues {
  redisUrl?: string
  redisHost?: string
  redisPort?: number
  redisDb?: number
  cluster?: string
  redisCaFile?: string
}

/**
 * Flags win over settings. `REDIS_URL` gives the base; `REDIS_HOST`,
 * `REDIS_PORT`, `REDIS_DB` and `REDIS_PASSWORD` fill what it leaves out.
 * `REDIS_CLUSTER_NODES` (or --cluster) selects a cluster, `REDIS_SENTINELS` Sentinel.
 */
export function resolveRedisTarget(settings: Settings, flags: RedisFlagValues = {}): RedisTarget {
  const url = flags.redisUrl ?? settings.get('REDIS_URL')
  const target: RedisTarget = url ? parseRedisUrl(url) : {mode: 'standalone', host: '127.0.0.1', port: 6379, db: 0, tls: false, nodes: []}
  if (!url) {
    target.host = settings.get('REDIS_HOST') ?? target.host
    target.port = parsePort(settings.get('REDIS_PORT') ?? String(target.port))
    target.db = parseDb(settings.get('REDIS_DB') ?? '0')
  }
  if (flags.redisHost) target.host = flags.redisHost
  if (flags.redisPort !== undefined) target.port = flags.redisPort
  if (flags.redisDb !== undefined) target.db = flags.redisDb
  target.password ??= settings.get('REDIS_PASSWORD')
  target.caFile = flags.redisCaFile ?? settings.get('REDIS_TLS_CA_FILE')
  if (target.caFile) target.tls = true
  const commandTimeout = settings.get('REDIS_COMMAND_TIMEOUT')
  if (commandTimeout) target.commandTimeoutMs = Math.max(1, parseDuration(commandTimeout, 'REDIS_COMMAND_TIMEOUT')) * 1000
  applyTopology(target, settings, flags)
  return target
}

function applyTopology(target: RedisTarget, settings: Settings, flags: RedisFlagValues): void {
  const clusterNodes = flags.cluster ?? settings.get('REDIS_CLUSTER_NODES')
  const sentinels = settings.get('REDIS_SENTINELS')
  if (clusterNodes) {
    target.mode = 'cluster'
    target.nodes = parseNodeList(clusterNodes, 'REDIS_CLUSTER_NODES')
    if (target.db !== 0) throw usageError('Redis Cluster has only database 0; drop the database number from REDIS_URL / REDIS_DB.')
  } else if (sentinels) {
    target.mode = 'sentinel'
    target.nodes = parseNodeList(sentinels, 'REDIS_SENTINELS')
    target.sentinelName = settings.get('REDIS_SENTINEL_NAME') ?? 'mymaster'
    target.sentinelPassword = settings.get('REDIS_SENTINEL_PASSWORD')
  }
}

/** `redis://user:***@host:port/db`, `redis-cluster://h1:p1,h2:p2`: safe for messages and logs. */
export function describeRedisTarget(target: RedisTarget): string {
  const credentials = target.password ? `${target.username ?? ''}:***@` : target.username ? `${target.username}@` : ''
  const nodes = target.nodes.map((node) => `${node.host}:${node.port}`).join(',')
  const secure = target.tls ? 's' : ''
  if (target.mode === 'cluster') return `redis${secure}-cluster://${credentials}${nodes}`
  if (target.mode === 'sentinel') return `redis${secure}-sentinel://${credentials}${nodes}/${target.sentinelName}/${target.db}`
  return `redis${secure}://${credentials}${target.host}:${target.port}/${target.db}`
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
    mode: 'standalone',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port ? parsePort(parsed.port) : 6379,
    db: dbPath ? parseDb(dbPath) : 0,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:',
    nodes: [],
  }
}

function parseNodeList(text: string, name: string): RedisNode[] {
  const nodes = text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((entry) => {
      const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(entry)
      if (!match) throw usageError(`${name} must list host:port pairs separated by commas, not "${entry}".`)
      return {host: match[1], port: parsePort(match[2])}
    })
  if (nodes.length === 0) throw usageError(`${name} is empty.`)
  return nodes
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
