import {KeepFirst} from './bounded-heap.js'
import {NameCounts} from './name-counts.js'
import type {RecordKind} from './records.js'
import type {AnyStoredRecord, TokenStore, UserIndexRecord, WalkOptions} from './token-store.js'

export const EXPIRING_SOON_SECONDS = 86_400
const TOP_COUNT = 10
const STRING_KINDS = ['client', 'state', 'code', 'token', 'refresh'] as const

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
 * Counts in one pass over the keyspace. Active tokens per user and per
 * client are counted exactly (NameCounts), so memory grows with the number
 * of distinct users and clients by a few bytes each, not with the tokens.
 */
export async function collectStats(store: TokenStore, options: WalkOptions & {now?: number} = {}): Promise<TokenStats> {
  const now = options.now ?? Date.now() / 1000
  const stats = emptyStats(now)
  const tokensPerUser = new NameCounts()
  const tokensPerClient = new NameCounts()
  // Keyed by UTC day number (days since the epoch): formatting a date per token cost more than the rest of its counting.
  const expiryDays = new Map<number, number>()
  for await (const batch of store.tally(options)) {
    for (const stored of batch.records) {
      if (stored.kind === 'user_tokens') {
        countUserIndex(stats.user_index, stored)
        continue
      }
      const kindStats = stats.kinds[stored.kind]
      const expiresAt = countRecord(kindStats, stored, now)
      if (stored.kind === 'token' && stored.record && expiresAt !== undefined && expiresAt > now) {
        tokensPerUser.add(stored.record.username)
        tokensPerClient.add(stored.record.client_id)
        if (expiresAt - now <= EXPIRY_HORIZON_DAYS * 86_400) increment(expiryDays, Math.floor(expiresAt / 86_400))
      }
    }
    stats.user_index.orphan_entries += batch.orphanEntries
  }
  stats.top_users = topEntries(tokensPerUser).map(([username, count]) => ({username, active_tokens: count}))
  const topClients = topEntries(tokensPerClient)
  const names = await store.clientNames(topClients.map(([clientId]) => clientId))
  stats.top_clients = topClients.map(([clientId, count]) => ({client_id: clientId, client_name: names.get(clientId) ?? null, active_tokens: count}))
  stats.expiry_by_day = [...expiryDays.entries()].sort(([a], [b]) => a - b).map(([day, tokens]) => ({date: utcDate(day * 86_400), tokens}))
  return stats
}

function emptyStats(now: number): TokenStats {
  const kinds = Object.fromEntries(
    STRING_KINDS.map((kind) => [kind, {count: 0, expired: 0, expiring_24h: 0, without_ttl: 0, malformed: 0}]),
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

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

/** The TOP_COUNT largest counts, ties by name. */
function topEntries(counts: NameCounts): Array<[string, number]> {
  const top = new KeepFirst<[string, number]>(TOP_COUNT, (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  for (const entry of counts.entries()) top.add(entry)
  return top.drain()
}

function utcDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10)
}
