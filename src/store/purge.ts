import {type StringRecordKind, KINDS_THAT_ALWAYS_EXPIRE, LATEST_RECORD_TIME} from './records.js'
import type {AnyStoredRecord, ConditionalDelete, IndexEntry, StoredRecord, TokenStore, UserIndexRecord, WalkOptions} from './token-store.js'

const MALFORMED_KEYS_REPORTED = 20

export interface PurgeOptions extends WalkOptions {
  dryRun: boolean
  /** REFRESH_TOKEN_LIFETIME: tells whether a refresh token without a TTL is past its life. */
  refreshTokenLifetime: number
}

export interface PurgeResult {
  dry_run: boolean
  deleted: {access_tokens: number; clients: number; refresh_tokens: number; states: number; codes: number}
  /** Records deleted (or to delete) because they are past their expiry. */
  expired: number
  /** Records of a kind that always has a TTL but had none. */
  missing_ttl: number
  /** Valid access or refresh tokens without a TTL: given their TTL back instead of being deleted. */
  ttl_restored: number
  /** User index entries removed: those of deleted tokens, and those pointing at no token. */
  index_entries_removed: number
  /** Index sets that lost their last entry (Redis drops an empty set). */
  index_sets_emptied: number
  /** Records that were expired at scan time but valid (or changed) when the delete ran: kept. */
  kept_changed: number
  malformed: number
  malformed_keys: string[]
}

type StringStoredRecord = Exclude<AnyStoredRecord, UserIndexRecord>
type PurgeAction = {action: 'delete'; reason: 'expired' | 'missing_ttl'; expiryField: string; lifetime?: number} | {action: 'restore_ttl'; expiresAt: number}
interface PlannedChange {
  stored: StringStoredRecord
  plan: PurgeAction
}

const DELETED_FIELD: Record<StringRecordKind, keyof PurgeResult['deleted']> = {
  token: 'access_tokens',
  client: 'clients',
  refresh: 'refresh_tokens',
  state: 'states',
  code: 'codes',
}

/**
 * Expired records, records that should have a TTL and have none, and orphan
 * index entries. planFor decides for both runs; a dry run skips the writes,
 * and foresees at each index set which of its entries the real run removes
 * (entries of tokens it deletes, entries pointing at no token) by the same
 * decision, where the real run counts what Redis reports it removed.
 */
export async function purgeExpired(store: TokenStore, options: PurgeOptions): Promise<PurgeResult> {
  const result = emptyResult(options.dryRun === true)
  // A batch's deletes run in Redis while the next batch is read and planned; at most one batch of changes is pending.
  let pending: Promise<unknown> | undefined
  for await (const batch of store.walk(['token', 'client', 'refresh', 'state', 'code', 'user_tokens'], options)) {
    const now = Date.now() / 1000
    const indexes: UserIndexRecord[] = []
    const planned: PlannedChange[] = []
    for (const stored of batch) {
      if (stored.problem) {
        noteMalformed(result, stored.key)
      } else if (stored.kind === 'user_tokens') {
        indexes.push(stored)
      } else {
        const plan = planFor(stored, now, options.refreshTokenLifetime)
        if (plan) planned.push({stored, plan})
      }
    }
    const changes = Promise.all([
      applyPlans(store, planned, result, options.dryRun),
      options.dryRun ? foreseeIndexCleanup(store, indexes, result, now, options.refreshTokenLifetime) : removeOrphans(store, indexes, result),
    ])
    changes.catch(() => {}) // awaited on the next turn or below; this only keeps an early failure from counting as unhandled
    await pending
    pending = changes
  }
  await pending
  return result
}

function planFor(stored: StringStoredRecord, now: number, refreshTokenLifetime: number): PurgeAction | undefined {
  const missingTtl = stored.ttlSeconds === null && KINDS_THAT_ALWAYS_EXPIRE.has(stored.kind)
  if (stored.kind === 'token' && stored.record) {
    const expiresAt = stored.record.expires_at
    if (expiresAt <= now) return {action: 'delete', reason: 'expired', expiryField: 'expires_at'}
    return missingTtl ? {action: 'restore_ttl', expiresAt} : undefined
  }
  if (stored.kind === 'client' && stored.record) {
    const secretExpiry = stored.record.client_secret_expires_at
    return secretExpiry > 0 && secretExpiry <= now ? {action: 'delete', reason: 'expired', expiryField: 'client_secret_expires_at'} : undefined
  }
  if (!missingTtl) return undefined
  const createdAt = stored.kind === 'refresh' ? stored.record?.created_at : undefined
  if (createdAt === undefined) return {action: 'delete', reason: 'missing_ttl', expiryField: ''}
  const expiresAt = createdAt + refreshTokenLifetime
  return expiresAt <= now ? {action: 'delete', reason: 'missing_ttl', expiryField: '', lifetime: refreshTokenLifetime} : {action: 'restore_ttl', expiresAt}
}

async function applyPlans(store: TokenStore, planned: PlannedChange[], result: PurgeResult, dryRun: boolean): Promise<void> {
  if (planned.length === 0) return
  const applied = dryRun ? {outcomes: planned.map(() => 1), indexEntriesRemoved: 0, indexSetsEmptied: 0} : await applyInRedis(store, planned)
  planned.forEach(({stored, plan}, position) => {
    const outcome = applied.outcomes[position]
    if (plan.action === 'restore_ttl') {
      result.ttl_restored += outcome
      return
    }
    if (outcome === -1) result.kept_changed++
    if (outcome !== 1) return
    result.deleted[DELETED_FIELD[stored.kind]]++
    result[plan.reason]++
  })
  result.index_entries_removed += applied.indexEntriesRemoved
  result.index_sets_emptied += applied.indexSetsEmptied
}

/**
 * Outcome per plan (deletes: 1 / 0 / -1 from Redis's re-check; TTL restores: 1 or 0)
 * and what went from the user index with the deleted tokens.
 */
async function applyInRedis(store: TokenStore, planned: PlannedChange[]) {
  const deletes = planned.flatMap(({stored, plan}): ConditionalDelete[] => (plan.action === 'delete' ? [conditionalDelete(stored, plan)] : []))
  // Capped: a lifetime setting far in the future must not become an EXPIREAT Redis refuses.
  const restores = planned.flatMap(({stored, plan}) =>
    plan.action === 'restore_ttl' ? [{key: stored.key, at: Math.ceil(Math.min(plan.expiresAt, LATEST_RECORD_TIME))}] : [],
  )
  const [restoreOutcomes, deleted] = await Promise.all([store.expireAtIfNoTtl(restores), store.deleteIfStillExpired(deletes)])
  let nextDelete = 0
  let nextRestore = 0
  const outcomes = planned.map(({plan}) => (plan.action === 'delete' ? deleted.outcomes[nextDelete++] : restoreOutcomes[nextRestore++]))
  return {outcomes, indexEntriesRemoved: deleted.indexEntriesRemoved, indexSetsEmptied: deleted.indexSetsEmptied}
}

function conditionalDelete(stored: StringStoredRecord, plan: Extract<PurgeAction, {action: 'delete'}>): ConditionalDelete {
  return {
    key: stored.key,
    expiryField: plan.expiryField,
    lifetime: plan.lifetime,
    requireNoTtl: plan.reason === 'missing_ttl',
    indexEntry: stored.kind === 'token' && stored.record ? {username: stored.record.username, jti: stored.id} : undefined,
  }
}

async function removeOrphans(store: TokenStore, indexes: UserIndexRecord[], result: PurgeResult): Promise<void> {
  if (indexes.length === 0) return
  const removed = await store.findOrphanEntries(
    indexes.map((index) => index.id),
    {remove: true},
  )
  result.index_entries_removed += removed.orphans
  result.index_sets_emptied += removed.setsEmptied
}

/**
 * What the real run removes from these index sets, over the whole run: each
 * entry whose token is gone, and each entry of a token that planFor deletes
 * (the real run removes it with the token, from the set its record names).
 */
async function foreseeIndexCleanup(store: TokenStore, indexes: UserIndexRecord[], result: PurgeResult, now: number, refreshTokenLifetime: number) {
  if (indexes.length === 0) return
  const leaving = new Map<string, number>()
  for await (const pages of store.indexMemberPages(indexes.map((index) => index.id))) {
    const entries = pages.flat()
    const tokens = await store.getAccessTokens(entries.map(({jti}) => jti))
    entries.forEach((entry, position) => {
      if (!entryLeaves(entry, tokens[position], now, refreshTokenLifetime)) return
      result.index_entries_removed++
      leaving.set(entry.username, (leaving.get(entry.username) ?? 0) + 1)
    })
  }
  for (const index of indexes) {
    if (index.size !== undefined && index.size > 0 && leaving.get(index.id) === index.size) result.index_sets_emptied++
  }
}

function entryLeaves(entry: IndexEntry, token: StoredRecord<'token'> | undefined, now: number, refreshTokenLifetime: number): boolean {
  if (!token) return true
  if (!token.record || token.record.username !== entry.username) return false
  return planFor(token, now, refreshTokenLifetime)?.action === 'delete'
}

function noteMalformed(result: PurgeResult, key: string): void {
  result.malformed++
  if (result.malformed_keys.length < MALFORMED_KEYS_REPORTED) result.malformed_keys.push(key)
}

function emptyResult(dryRun: boolean): PurgeResult {
  return {
    dry_run: dryRun,
    deleted: {access_tokens: 0, clients: 0, refresh_tokens: 0, states: 0, codes: 0},
    expired: 0,
    missing_ttl: 0,
    ttl_restored: 0,
    index_entries_removed: 0,
    index_sets_emptied: 0,
    kept_changed: 0,
    malformed: 0,
    malformed_keys: [],
  }
}
