/**
 * About how many keys lie under a prefix, cheaply enough to put in a
 * confirmation prompt: a small database is counted with SCAN; a large one is
 * estimated from DBSIZE and the share of the prefix among random keys
 * (RANDOMKEY, one round trip), never by walking it.
 */
import type {Redis} from 'ioredis'

import {type RedisClient, isCluster} from './client.js'

/** Up to this many keys per server, SCAN counts exactly (a few round trips). */
const COUNT_EXACTLY_UP_TO = 10_000
const SAMPLES = 200

export interface NamespaceSize {
  keys: number
  exact: boolean
}

/** Keys in the database, every master of a cluster together (DBSIZE). */
export async function databaseSize(redis: RedisClient): Promise<number> {
  const servers: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis]
  const sizes = await Promise.all(servers.map((server) => server.dbsize()))
  return sizes.reduce((sum, size) => sum + size, 0)
}

export async function namespaceSize(redis: RedisClient, prefix: string): Promise<NamespaceSize> {
  const servers: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis]
  const sizes = await Promise.all(servers.map((server) => serverNamespaceSize(server, prefix)))
  return {keys: sizes.reduce((sum, size) => sum + size.keys, 0), exact: sizes.every((size) => size.exact)}
}

async function serverNamespaceSize(server: Redis, prefix: string): Promise<NamespaceSize> {
  const total = await server.dbsize()
  if (total <= COUNT_EXACTLY_UP_TO) {
    let keys = 0
    for await (const batch of server.scanStream({match: `${escapeGlob(prefix)}*`, count: 1000}) as AsyncIterable<string[]>) keys += batch.length
    return {keys, exact: true}
  }
  const pipeline = server.pipeline()
  for (let sample = 0; sample < SAMPLES; sample++) pipeline.randomkey()
  const replies = (await pipeline.exec()) ?? []
  const drawn = replies.filter(([error, key]) => !error && typeof key === 'string')
  const inside = drawn.filter(([, key]) => (key as string).startsWith(prefix)).length
  return {keys: drawn.length === 0 ? 0 : Math.round((total * inside) / drawn.length), exact: false}
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
