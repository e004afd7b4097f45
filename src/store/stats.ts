import {STATS_KINDS} from '../redis/scripts.js'
import type {RecordKind} from './records.js'
import type {AnyStoredRecord, TokenStore, UserIndexRecord, WalkOptions} from './token-store.js'

export const EXPIRING_SOON_SECONDS = 86_400
const TOP_COUNT = 10

export interface KindStats {
  count: number
  expired: number
  expiring_24h: number
  without_ttl: number
  malformed: number
}

export interface UserIndexStats {
  sets: number
  entries: number
  orphan_entries: number
  without_ttl: number
  malformed: number
}

export interface TokenStats {
  /** ISO 8601 UTC: the time expiry was judged against. */
  generated_at: string
  kinds: Record<Exclude<RecordKind, 'user_tokens'>, KindStats>
  user_index: UserIndexStats
  top_users: Array<{username: string; active_tokens: number}>
  top_clients: Array<{client_id: string; client_name: string | null; active_tokens: number}>
  /** Active (unexpired) access tokens per day from today, UTC dates. */
  expiry_by_day: Array<{date: string; tokens: number}>
}

const EXPIRY_HORIZON_DAYS = 7

/**
 * Counts in one pass over the keyspace. On a single server Redis counts each
 * batch itself (STATS_BATCH, the same rules as below in Lua) and sends back
 * numbers; the records it leaves, and every record on a cluster, are judged
 * here.
 */
export async function collectStats(store: TokenStore, options: WalkOptions & {now?: number} = {}): Promise<TokenStats> {
  const now = options.now ?? Date.now() / 1000
  const stats = emptyStats(now)
  const tokensPerUser = new Map<string, number>()
  const tokensPerClient = new Map<string, number>()
  const expiryDays = new Map<string, number>()
  const window = {now, soonSeconds: EXPIRING_SOON_SECONDS, horizonSeconds: EXPIRY_HORIZON_DAYS * 86_400}
  for await (const batch of store.tally(window, options)) {
    if (batch.counted) {
      addCounters(stats, batch.counted.counters)
      addPairs(tokensPerUser, batch.counted.users, String)
      addPairs(tokensPerClient, batch.counted.clients, String)
      addPairs(expiryDays, batch.counted.days, (day) => utcDate(Number(day) * 86_400))
    }
    for (const stored of batch.records) {
      if (stored.kind === 'user_tokens') {
        countUserIndex(stats.user_index, stored)
        continue
      }
      const kindStats = stats.kinds[stored.kind]
      const expiresAt = countRecord(kindStats, stored, now)
      if (stored.kind === 'token' && stored.record && expiresAt !== undefined && expiresAt > now) {
        increment(tokensPerUser, stored.record.username)
        increment(tokensPerClient, stored.record.client_id)
        if (expiresAt - now <= EXPIRY_HORIZON_DAYS * 86_400) increment(expiryDays, utcDate(expiresAt))
      }
    }
    stats.user_index.orphan_entries += batch.orphanEntries
  }
  stats.top_users = topEntries(tokensPerUser).map(([username, count]) => ({username, active_tokens: count}))
  const topClients = topEntries(tokensPerClient)
  const names = await store.clientNames(topClients.map(([clientId]) => clientId))
  stats.top_clients = topClients.map(([clientId, count]) => ({client_id: clientId, client_name: names.get(clientId) ?? null, active_tokens: count}))
  stats.expiry_by_day = [...expiryDays.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([date, tokens]) => ({date, tokens}))
  return stats
}

/** STATS_BATCH's counters: five per kind of STATS_KINDS, then the index sets'. */
function addCounters(stats: TokenStats, counters: number[]): void {
  STATS_KINDS.forEach((kind, position) => {
    const kindStats = stats.kinds[kind]
    const at = position * 5
    kindStats.count += counters[at] ?? 0
    kindStats.expired += counters[at + 1] ?? 0
    kindStats.expiring_24h += counters[at + 2] ?? 0
    kindStats.without_ttl += counters[at + 3] ?? 0
    kindStats.malformed += counters[at + 4] ?? 0
  })
  const at = STATS_KINDS.length * 5
  stats.user_index.sets += counters[at] ?? 0
  stats.user_index.entries += counters[at + 1] ?? 0
  stats.user_index.without_ttl += counters[at + 2] ?? 0
  stats.user_index.malformed += counters[at + 3] ?? 0
}

/** Adds name, count, name, count, … to the counts. */
function addPairs(counts: Map<string, number>, pairs: ReadonlyArray<string | number>, name: (value: string | number) => string): void {
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const key = name(pairs[i])
    counts.set(key, (counts.get(key) ?? 0) + Number(pairs[i + 1]))
  }
}

function emptyStats(now: number): TokenStats {
  const kinds = Object.fromEntries(
    STATS_KINDS.map((kind) => [kind, {count: 0, expired: 0, expiring_24h: 0, without_ttl: 0, malformed: 0}]),
  ) as TokenStats['kinds']
  return {
    generated_at: new Date(Math.floor(now) * 1000).toISOString(),
    kinds,
    user_index: {sets: 0, entries: 0, orphan_entries: 0, without_ttl: 0, malformed: 0},
    top_users: [],
    top_clients: [],
    expiry_by_day: [],
  }
}

/** Counts one string record; returns the time it expires at, when known. */
function countRecord(kindStats: KindStats, stored: Exclude<AnyStoredRecord, UserIndexRecord>, now: number): number | undefined {
  kindStats.count++
  if (stored.ttlSeconds === null) kindStats.without_ttl++
  if (stored.problem) {
    kindStats.malformed++
    return undefined
  }
  const expiresAt = effectiveExpiry(stored, now)
  if (expiresAt === undefined) return undefined
  if (expiresAt <= now) kindStats.expired++
  else if (expiresAt - now <= EXPIRING_SOON_SECONDS) kindStats.expiring_24h++
  return expiresAt
}

/** An access token expires at its `expires_at`; a client when its secret does; other records with their TTL. */
export function effectiveExpiry(stored: Exclude<AnyStoredRecord, UserIndexRecord>, now: number): number | undefined {
  if (stored.kind === 'token' && stored.record) return stored.record.expires_at
  if (stored.kind === 'client' && stored.record?.client_secret_expires_at) return stored.record.client_secret_expires_at
  return stored.ttlSeconds === null ? undefined : now + stored.ttlSeconds
}

function countUserIndex(indexStats: UserIndexStats, stored: UserIndexRecord): void {
  indexStats.sets++
  if (stored.ttlSeconds === null) indexStats.without_ttl++
  if (stored.problem) indexStats.malformed++
  else indexStats.entries += stored.size ?? 0
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

function topEntries(counts: Map<string, number>): Array<[string, number]> {
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, TOP_COUNT)
}

function utcDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10)
}
