/**
 * How the token store's batch operations run in Redis: one script call per
 * batch on a single server; per-key commands on a cluster, where a script may
 * only touch keys of one slot and a record and its user index live in
 * different slots. Only TokenStore calls these.
 */
import {type RedisClient, type RedisCommand, WRONG_TYPE, defineScript, isCluster, runCommands, runScript, scanStepReplies} from '../redis/client.js'
import {DELETE_IF_STILL_EXPIRED, FIND_ORPHAN_ENTRIES, READ_RECORDS, REMOVE_INDEX_ENTRY, SCANNED, SCAN_RECORDS} from '../redis/scripts.js'
import {type RecordKind, accessTokenKey, userIndexKey} from './records.js'

export interface IndexEntry {
  username: string
  jti: string
}

/**
 * A delete that Redis re-checks when it runs, so that a record that became
 * valid between the scan and the delete stays.
 */
export interface ConditionalDelete {
  key: string
  /** The field holding the record's absolute expiry ('' for none). */
  expiryField: string
  /** A lifetime counted from created_at, for records without an expiry field. */
  lifetime?: number
  /** Delete only while the key still has no TTL. */
  requireNoTtl: boolean
  /** The user index entry that goes with the record. */
  indexEntry?: IndexEntry
}

/** Per delete 1 deleted, 0 already gone, -1 kept; and how many index entries went with them. */
export interface ConditionalDeleteOutcome {
  outcomes: number[]
  indexEntriesRemoved: number
  /** Index sets that lost their last entry, so that Redis dropped them. */
  indexSetsEmptied: number
}

/** Value (GET, or SCARD for an index set; WRONG_TYPE for another type) and PTTL of each key, flattened. */
export async function readValuesAndTtls(redis: RedisClient, located: ReadonlyArray<{key: string; kind: RecordKind}>): Promise<unknown[]> {
  if (isCluster(redis)) {
    const commands = located.flatMap(({key, kind}): RedisCommand[] => [
      [kind === 'user_tokens' ? 'scard' : 'get', key],
      ['pttl', key],
    ])
    return runCommands(redis, commands, {ignoreWrongType: true})
  }
  const replies = (await runScript(
    redis,
    READ_RECORDS,
    located.map(({key}) => key),
    located.map(({kind}) => (kind === 'user_tokens' ? 'set' : 'string')),
  )) as unknown[]
  // The script answers false (null) for a key of the wrong type that still exists.
  return replies.map((reply, position) => (position % 2 === 0 && reply === null && replies[position + 1] !== -2 ? WRONG_TYPE : reply))
}

/** One key as SCAN_RECORDS found it (see there). */
export interface ScannedKey {
  key: string
  found: (typeof SCANNED)[keyof typeof SCANNED]
  /** The string, a set's size, an unread string's length, or false. */
  value: string | number | false
  pttl: number
  /** Entries of a user index set whose token is gone; -1 when the script did not count them. */
  orphans: number
}

/** SCAN_RECORDS' reply (see there). */
type ScanRecordsReply = [
  cursor: string,
  keysFound: number,
  keys: string[],
  values: Array<string | number | null>,
  pttls: number[],
  codes: string,
  orphans: number[],
]

/** A page of SCAN_RECORDS: how many keys SCAN returned, and those still there. */
export interface ScannedPage {
  keysFound: number
  keys: ScannedKey[]
}

/** Value bytes one SCAN_RECORDS call (or one read of what it left) copies at most. */
export const SCAN_RECORDS_BYTES = 1024 * 1024
/** At most this SCAN COUNT and index members per SCAN_RECORDS call: with the byte budget, each call stays a few ms of Redis time. */
const SCAN_RECORDS_LIMITS = {count: 500, members: 1000}

/** Consecutive groups whose `bytes` add up to at most `budget`; an item larger than that alone. */
export function groupByBytes<T extends {bytes: number}>(items: readonly T[], budget: number): T[][] {
  const groups: T[][] = []
  let current: T[] = []
  let used = 0
  for (const item of items) {
    if (current.length > 0 && used + item.bytes > budget) {
      groups.push(current)
      current = []
      used = 0
    }
    current.push(item)
    used += item.bytes
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/** Walks the keys matching `match` on a single server with SCAN_RECORDS, a call ahead (scanStepReplies). */
export async function* scanRecordPages(redis: RedisClient, match: string, options: {count: number; countOrphans: boolean}): AsyncGenerator<ScannedPage> {
  const count = Math.min(options.count, SCAN_RECORDS_LIMITS.count)
  const members = options.countOrphans ? SCAN_RECORDS_LIMITS.members : 0
  for await (const [, keysFound, names, values, pttls, codes, orphans] of scanStepReplies<ScanRecordsReply>(redis, SCAN_RECORDS, [
    match,
    count,
    SCAN_RECORDS_BYTES,
    members,
  ])) {
    let sets = 0
    const keys = names.map((key, index): ScannedKey => {
      const found = codes[index] as ScannedKey['found']
      return {key, found, value: values[index] ?? false, pttl: pttls[index], orphans: found === SCANNED.set ? orphans[sets++] : -1}
    })
    yield {keysFound, keys}
  }
}

/** How many of these entries are in their sets (SISMEMBER). */
export async function countIndexEntries(redis: RedisClient, entries: readonly IndexEntry[]): Promise<number> {
  const replies = await runCommands(
    redis,
    entries.map(({username, jti}): RedisCommand => ['sismember', userIndexKey(username), jti]),
    {ignoreWrongType: true},
  )
  return replies.filter((reply) => reply === 1).length
}

/** What a look for orphan index entries found. */
export interface OrphanScan {
  /** Entries whose token is gone (with `remove`: that this call removed). */
  orphans: number
  /** Sets that the removals left empty, which Redis then dropped. */
  setsEmptied: number
}

/** The most set members one script call looks at, so that no call keeps Redis busy for long. */
const MEMBERS_PER_CALL = 4000
/** SSCAN's COUNT when paging a set from Node (a cluster, the dry run). */
const MEMBERS_PER_PAGE = 500

/**
 * Entries of the given index sets whose `oauth:token:{jti}` no longer exists,
 * each set read a page at a time. With `remove` they also leave their sets
 * (on a single server in the same script, so each check and removal is atomic).
 */
export async function findOrphanEntries(redis: RedisClient, usernames: readonly string[], remove: boolean): Promise<OrphanScan> {
  const found: OrphanScan = {orphans: 0, setsEmptied: 0}
  if (isCluster(redis)) {
    for await (const pages of indexMemberPages(redis, usernames)) {
      const scan = await orphansAmong(redis, pages, remove)
      found.orphans += scan.orphans
      found.setsEmptied += scan.setsEmptied
    }
    return found
  }
  let pending = usernames.map((username) => ({username, cursor: '0'}))
  while (pending.length > 0) {
    const [reached, cursors, orphans, emptied] = (await runScript(
      redis,
      FIND_ORPHAN_ENTRIES,
      pending.map(({username}) => userIndexKey(username)),
      [remove ? 'remove' : 'count', MEMBERS_PER_CALL, ...pending.map(({cursor}) => cursor)],
    )) as [number, string[], number[], number[]]
    const unfinished: typeof pending = []
    for (let i = 0; i < reached; i++) {
      found.orphans += orphans[i]
      found.setsEmptied += emptied[i]
      if (cursors[i] !== '0') unfinished.push({username: pending[i].username, cursor: cursors[i]})
    }
    pending = unfinished.concat(pending.slice(reached))
  }
  return found
}

/**
 * The members of each index set, a page (SSCAN) per set per round: each
 * round yields the pages it read, until every set is done. A key of another
 * type yields nothing.
 */
export async function* indexMemberPages(redis: RedisClient, usernames: readonly string[]): AsyncGenerator<IndexEntry[][]> {
  let pending = usernames.map((username) => ({username, cursor: '0'}))
  while (pending.length > 0) {
    const replies = await runCommands(
      redis,
      pending.map(({username, cursor}): RedisCommand => ['sscan', userIndexKey(username), cursor, 'COUNT', MEMBERS_PER_PAGE]),
      {ignoreWrongType: true},
    )
    const pages: IndexEntry[][] = []
    const unfinished: typeof pending = []
    pending.forEach(({username}, position) => {
      const reply = replies[position]
      if (!Array.isArray(reply)) return
      const [cursor, members] = reply as [string, string[]]
      if (members.length > 0) pages.push(members.map((jti) => ({username, jti})))
      if (cursor !== '0') unfinished.push({username, cursor})
    })
    if (pages.length > 0) yield pages
    pending = unfinished
  }
}

/** Per-key commands for one round of pages (a cluster): EXISTS each token, SREM the orphans, EXISTS each set they left. */
async function orphansAmong(redis: RedisClient, pages: IndexEntry[][], remove: boolean): Promise<OrphanScan> {
  const entries = pages.flat()
  const existence = await runCommands(
    redis,
    entries.map(({jti}) => ['exists', accessTokenKey(jti)]),
  )
  const orphans = entries.filter((_, position) => existence[position] === 0)
  if (!remove) return {orphans: orphans.length, setsEmptied: 0}
  const removal = await removeIndexEntries(redis, orphans)
  return {orphans: removal.removed, setsEmptied: removal.setsEmptied}
}

/**
 * Each entry out of its set, the removal and the check whether it left the
 * set empty in one atomic call per entry, so that calls running side by side
 * count an emptied set once (the purge's token deletes and orphan removals
 * run together).
 */
export async function removeIndexEntries(redis: RedisClient, entries: readonly IndexEntry[]): Promise<{removed: number; setsEmptied: number}> {
  if (entries.length === 0) return {removed: 0, setsEmptied: 0}
  defineScript(redis, REMOVE_INDEX_ENTRY)
  const replies = await runCommands(
    redis,
    entries.map(({username, jti}): RedisCommand => [REMOVE_INDEX_ENTRY.name, 1, userIndexKey(username), jti]),
  )
  return {
    removed: replies.filter((reply) => reply === 1 || reply === 2).length,
    setsEmptied: replies.filter((reply) => reply === 2).length,
  }
}

/**
 * One script call for the batch on a single server, which also drops each
 * deleted record's index entry. On a cluster one call per key, then the index
 * entries of the records deleted.
 */
export async function deleteIfStillExpired(redis: RedisClient, deletes: readonly ConditionalDelete[]): Promise<ConditionalDeleteOutcome> {
  if (deletes.length === 0) return {outcomes: [], indexEntriesRemoved: 0, indexSetsEmptied: 0}
  const cluster = isCluster(redis)
  const scriptArgs = (change: ConditionalDelete): string[] => {
    const index = !cluster && change.indexEntry ? [userIndexKey(change.indexEntry.username), change.indexEntry.jti] : ['', '']
    return [change.expiryField, change.lifetime === undefined ? '' : String(change.lifetime), change.requireNoTtl ? '1' : '', ...index]
  }
  if (!cluster) {
    const [outcomes, indexEntriesRemoved, indexSetsEmptied] = (await runScript(
      redis,
      DELETE_IF_STILL_EXPIRED,
      deletes.map(({key}) => key),
      deletes.flatMap(scriptArgs),
    )) as [number[], number, number]
    return {outcomes, indexEntriesRemoved, indexSetsEmptied}
  }
  defineScript(redis, DELETE_IF_STILL_EXPIRED)
  const replies = (await runCommands(
    redis,
    deletes.map((change): RedisCommand => [DELETE_IF_STILL_EXPIRED.name, 1, change.key, ...scriptArgs(change)]),
  )) as Array<[number[], number]>
  const outcomes = replies.map(([[outcome]]) => outcome)
  const indexEntries = deletes.flatMap(({indexEntry}, position) => (indexEntry && outcomes[position] === 1 ? [indexEntry] : []))
  const removal = await removeIndexEntries(redis, indexEntries)
  return {outcomes, indexEntriesRemoved: removal.removed, indexSetsEmptied: removal.setsEmptied}
}

/** EXPIREAT ... NX for each key (only while it still has no TTL, so a concurrent rewrite keeps its own); 1 when set. */
export async function expireAtIfNoTtl(redis: RedisClient, requests: ReadonlyArray<{key: string; at: number}>): Promise<number[]> {
  const replies = await runCommands(
    redis,
    requests.map(({key, at}): RedisCommand => ['expireat', key, at, 'NX']),
  )
  return replies.map(Number)
}
