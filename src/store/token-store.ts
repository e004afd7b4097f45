import {type RedisClient, WRONG_TYPE, isCluster, runCommands, scanKeys} from '../redis/client.js'
import {SCANNED} from '../redis/scripts.js'
import {type NamespaceSize, databaseSize, namespaceSize} from '../redis/namespace-size.js'
import {
  type RecordKind,
  type RecordOfKind,
  type StringRecordKind,
  KEY_NAMESPACE,
  accessTokenKey,
  clientKey,
  keyPrefix,
  parseKey,
  parseRecord,
  userIndexKey,
} from './records.js'
import {
  type ConditionalDelete,
  type ConditionalDeleteOutcome,
  type IndexEntry,
  type OrphanScan,
  countIndexEntries,
  deleteIfStillExpired,
  expireAtIfNoTtl,
  findOrphanEntries,
  indexMemberPages,
  readValuesAndTtls,
  removeIndexEntries,
  SCAN_RECORDS_BYTES,
  type ScannedKey,
  groupByBytes,
  scanRecordPages,
} from './redis-batches.js'

export type {ConditionalDelete, ConditionalDeleteOutcome, IndexEntry, OrphanScan} from './redis-batches.js'

/** A string record as read from Redis: parsed, or with the reason it could not be. */
export interface StoredRecord<K extends StringRecordKind = StringRecordKind> {
  kind: K
  key: string
  id: string
  /** Seconds left before Redis expires the key; null when it has no TTL. */
  ttlSeconds: number | null
  record?: RecordOfKind[K]
  problem?: string
}

/** `oauth:user_tokens:{username}`: a SET of jti. */
export interface UserIndexRecord {
  kind: 'user_tokens'
  key: string
  id: string
  ttlSeconds: number | null
  size?: number
  problem?: string
}

export type AnyStoredRecord = {[K in StringRecordKind]: StoredRecord<K>}[StringRecordKind] | UserIndexRecord

export interface WalkOptions {
  /** Called after each batch with the number of keys seen so far. */
  onProgress?: (keysSeen: number) => void
}

/** What a tally of one SCAN batch found; see TokenStore.tally. */
export interface BatchTally {
  records: AnyStoredRecord[]
  /** Entries of this batch's index sets whose token is gone. */
  orphanEntries: number
}

type LocatedKey = {key: string; kind: RecordKind; id: string}

/** A page of a single server's walk: its records, and the orphan entries of its index sets (those the script did not count, by name). */
interface ScannedBatch {
  keysFound: number
  records: AnyStoredRecord[]
  orphanEntries: number
  uncountedSets: string[]
}

const DEFAULT_BATCH_SIZE = 1000
const CLIENT_NAME_CACHE_LIMIT = 50_000

/**
 * The one place that talks to Redis about the gateway's records: walks,
 * batched scripts, deletes, and the difference between a single server and a
 * cluster. Every walk goes through SCAN in batches with one script call (or
 * pipeline) per batch, so memory stays flat however many records Redis holds.
 * List, stats, purge and the admin commands are policies on top of it.
 */
export class TokenStore {
  private readonly clientNameCache = new Map<string, string | undefined>()

  constructor(
    /** The connection, for domains with their own Redis protocol (backups, minting); record work goes through the methods. */
    readonly redis: RedisClient,
    private readonly batchSize: number = DEFAULT_BATCH_SIZE,
  ) {}

  /**
   * Yields batches of records of the given kinds, read in one pass over the
   * keyspace. The next batch is read while the caller works on the current
   * one, so at most two batches are in memory.
   */
  async *walk(kinds: readonly RecordKind[], options: WalkOptions = {}): AsyncGenerator<AnyStoredRecord[]> {
    const wanted = new Set(kinds)
    const match = kinds.length === 1 ? `${keyPrefix(kinds[0])}*` : `${KEY_NAMESPACE}*`
    if (!isCluster(this.redis)) {
      let keysSeen = 0
      for await (const batch of this.scannedBatches(match, wanted, false)) {
        keysSeen += batch.keysFound
        if (batch.records.length > 0) yield batch.records
        options.onProgress?.(keysSeen)
      }
      return
    }
    let keysSeen = 0
    let previous: Promise<AnyStoredRecord[]> | undefined
    for await (const keys of scanKeys(this.redis, match, this.batchSize)) {
      keysSeen += keys.length
      const reading = this.readBatch(keys.flatMap((key) => locate(key).filter(({kind}) => wanted.has(kind))))
      reading.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
      if (previous) {
        const records = await previous
        if (records.length > 0) yield records
      }
      previous = reading
      options.onProgress?.(keysSeen)
    }
    const last = await previous
    if (last && last.length > 0) yield last
  }

  /**
   * One pass over the whole keyspace for oauth-stats: every record, and the
   * orphan entries of each batch's index sets. On a single server each SCAN
   * page is read, and its small index sets checked, by the script that scans
   * it; on a cluster, where a script may not read keys of several slots, the
   * records are read as `walk` reads them and the sets checked page by page.
   */
  async *tally(options: WalkOptions = {}): AsyncGenerator<BatchTally> {
    let keysSeen = 0
    if (!isCluster(this.redis)) {
      const everyKind = new Set<RecordKind>(['client', 'state', 'code', 'token', 'refresh', 'user_tokens'])
      for await (const batch of this.scannedBatches(`${KEY_NAMESPACE}*`, everyKind, true)) {
        keysSeen += batch.keysFound
        const uncounted = await this.findOrphanEntries(batch.uncountedSets)
        yield {records: batch.records, orphanEntries: batch.orphanEntries + uncounted.orphans}
        options.onProgress?.(keysSeen)
      }
      return
    }
    // A cluster: the next batch is read while the current one is judged.
    let previous: Promise<BatchTally> | undefined
    for await (const keys of scanKeys(this.redis, `${KEY_NAMESPACE}*`, this.batchSize)) {
      keysSeen += keys.length
      const tallying = this.tallyKeys(keys)
      tallying.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
      if (previous) yield await previous
      previous = tallying
      options.onProgress?.(keysSeen)
    }
    if (previous) yield await previous
  }

  private async tallyKeys(keys: readonly string[]): Promise<BatchTally> {
    const records = await this.readBatch(keys.flatMap((key) => locate(key)))
    const indexSets = records.flatMap((stored) => (stored.kind === 'user_tokens' && !stored.problem ? [stored.id] : []))
    return {records, orphanEntries: (await this.findOrphanEntries(indexSets)).orphans}
  }

  /**
   * A single server's walk: SCAN_RECORDS reads each page in the call that
   * scans it; the strings that did not fit in its byte budget are read here,
   * in calls of about one budget each. With `countOrphans` it also counts the
   * orphan entries of the small index sets; the others are named in `uncountedSets`.
   */
  private async *scannedBatches(match: string, wanted: ReadonlySet<RecordKind>, countOrphans: boolean): AsyncGenerator<ScannedBatch> {
    for await (const page of scanRecordPages(this.redis, match, {count: this.batchSize, countOrphans})) {
      const batch: ScannedBatch = {keysFound: page.keysFound, records: [], orphanEntries: 0, uncountedSets: []}
      const unread: Array<LocatedKey & {bytes: number}> = []
      for (const scanned of page.keys) {
        const located = locate(scanned.key)[0]
        if (!located || !wanted.has(located.kind)) continue
        if (scanned.found === SCANNED.unreadString) {
          unread.push({...located, bytes: scanned.value as number})
          continue
        }
        batch.records.push(toStoredRecord(located.kind, located.key, located.id, ttlSeconds(scanned.pttl), scannedValue(located.kind, scanned)))
        if (located.kind !== 'user_tokens' || scanned.found !== SCANNED.set) continue
        if (scanned.orphans >= 0) batch.orphanEntries += scanned.orphans
        else batch.uncountedSets.push(located.id)
      }
      const reads = groupByBytes(unread, SCAN_RECORDS_BYTES).map((group) => this.readBatch(group))
      for (const records of await Promise.all(reads)) batch.records.push(...records)
      yield batch
    }
  }

  /** Keys in the database (every master of a cluster): what a walk will scan. */
  async approximateKeyCount(): Promise<number> {
    return databaseSize(this.redis)
  }

  /** How many keys the `oauth:` namespace holds: counted in a small database, estimated from a sample in a large one. */
  async namespaceSize(): Promise<NamespaceSize> {
    return namespaceSize(this.redis, KEY_NAMESPACE)
  }

  async getAccessToken(jti: string): Promise<StoredRecord<'token'> | undefined> {
    const [record] = await this.readBatch([{key: accessTokenKey(jti), kind: 'token', id: jti}])
    return record as StoredRecord<'token'> | undefined
  }

  async getClient(clientId: string): Promise<StoredRecord<'client'> | undefined> {
    const [record] = await this.readBatch([{key: clientKey(clientId), kind: 'client', id: clientId}])
    return record as StoredRecord<'client'> | undefined
  }

  /** Client names for display; unknown or malformed clients map to undefined. */
  async clientNames(clientIds: Iterable<string>): Promise<Map<string, string | undefined>> {
    const missing = [...new Set(clientIds)].filter((id) => !this.clientNameCache.has(id))
    if (missing.length > 0) {
      if (this.clientNameCache.size + missing.length > CLIENT_NAME_CACHE_LIMIT) this.clientNameCache.clear()
      const records = await this.readBatch(missing.map((id) => ({key: clientKey(id), kind: 'client' as const, id})))
      for (const id of missing) this.clientNameCache.set(id, undefined)
      for (const stored of records) {
        if (stored.kind === 'client') this.clientNameCache.set(stored.id, stored.record?.client_name)
      }
    }
    return new Map([...clientIds].map((id) => [id, this.clientNameCache.get(id)]))
  }

  /** Deletes keys (UNLINK) in pipelined batches; returns how many existed. */
  async unlinkKeys(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    const results = await runCommands(
      this.redis,
      keys.map((key) => ['unlink', key]),
    )
    return results.reduce<number>((sum, removed) => sum + Number(removed), 0)
  }

  /** Removes jti entries from user index sets: how many entries went, and how many sets they left empty (gone). */
  async removeIndexEntries(entries: readonly IndexEntry[]): Promise<{removed: number; setsEmptied: number}> {
    return removeIndexEntries(this.redis, entries)
  }

  /** How many of these entries are in their user index sets. */
  async countIndexEntries(entries: readonly IndexEntry[]): Promise<number> {
    return countIndexEntries(this.redis, entries)
  }

  /**
   * Index sets of users whose name equals `username` ignoring case, as GitHub
   * logins do, with their sizes: one SCAN of the keyspace that ships only the
   * matching keys, so it is cheap next to a walk.
   */
  async userIndexesIgnoringCase(username: string): Promise<Array<{username: string; size: number}>> {
    const found: Array<{username: string; size: number}> = []
    for await (const keys of scanKeys(this.redis, userIndexKey(caseInsensitiveGlob(username)), this.batchSize)) {
      const sizes = await runCommands(
        this.redis,
        keys.map((key) => ['scard', key]),
        {ignoreWrongType: true},
      )
      keys.forEach((key, position) => {
        const id = parseKey(key)?.id
        if (id !== undefined && id.toLowerCase() === username.toLowerCase() && typeof sizes[position] === 'number') {
          found.push({username: id, size: sizes[position] as number})
        }
      })
    }
    return found
  }

  /**
   * Entries of these users' index sets whose token no longer exists; with
   * `remove`, each is checked and removed atomically and only the entries
   * this call removed are counted. Big sets are read a page at a time.
   */
  async findOrphanEntries(usernames: readonly string[], options: {remove?: boolean} = {}): Promise<OrphanScan> {
    return findOrphanEntries(this.redis, usernames, options.remove ?? false)
  }

  /** The entries of these users' index sets, a page per set per round (SSCAN). */
  indexMemberPages(usernames: readonly string[]): AsyncGenerator<IndexEntry[][]> {
    return indexMemberPages(this.redis, usernames)
  }

  /** The access tokens of these jti, read a batch at a time; undefined where there is none. */
  async getAccessTokens(jtis: readonly string[]): Promise<Array<StoredRecord<'token'> | undefined>> {
    const found = new Map<string, StoredRecord<'token'>>()
    for (let start = 0; start < jtis.length; start += this.batchSize) {
      const located = jtis.slice(start, start + this.batchSize).map((jti) => ({key: accessTokenKey(jti), kind: 'token' as const, id: jti}))
      for (const stored of await this.readBatch(located)) found.set(stored.id, stored as StoredRecord<'token'>)
    }
    return jtis.map((jti) => found.get(jti))
  }

  /** Deletes records that Redis, with its own clock, still finds past their expiry; see ConditionalDelete. */
  async deleteIfStillExpired(deletes: readonly ConditionalDelete[]): Promise<ConditionalDeleteOutcome> {
    return deleteIfStillExpired(this.redis, deletes)
  }

  /** Gives keys that have no TTL an absolute expiry (epoch seconds); 1 per key that got it. */
  async expireAtIfNoTtl(requests: ReadonlyArray<{key: string; at: number}>): Promise<number[]> {
    return expireAtIfNoTtl(this.redis, requests)
  }

  /** Value (GET, or SCARD for an index set) and PTTL of each key, in one round trip. */
  private async readBatch(located: ReadonlyArray<{key: string; kind: RecordKind; id: string}>): Promise<AnyStoredRecord[]> {
    if (located.length === 0) return []
    const replies = await readValuesAndTtls(this.redis, located)
    const records: AnyStoredRecord[] = []
    located.forEach(({key, kind, id}, index) => {
      const value = replies[index * 2]
      const pttl = replies[index * 2 + 1] as number
      if (pttl === -2) return // expired or deleted since the scan
      records.push(toStoredRecord(kind, key, id, ttlSeconds(pttl), value))
    })
    return records
  }
}

/** The record a key names, as a list of none or one. */
function locate(key: string): LocatedKey[] {
  const parsed = parseKey(key)
  return parsed ? [{key, ...parsed}] : []
}

function ttlSeconds(pttl: number): number | null {
  return pttl >= 0 ? Math.ceil(pttl / 1000) : null
}

/** What SCAN_RECORDS read, as readValuesAndTtls would have answered for a key of this kind. */
function scannedValue(kind: RecordKind, scanned: ScannedKey): unknown {
  const expected = kind === 'user_tokens' ? SCANNED.set : SCANNED.string
  return scanned.found === expected ? scanned.value : WRONG_TYPE
}

/**
 * A SCAN pattern matching the name with its ASCII letters in any case (GitHub
 * logins are ASCII) and nothing else: `Mal*` becomes `[mM][aA][lL]\*`.
 */
function caseInsensitiveGlob(name: string): string {
  return [...name]
    .map((char) => {
      if (/[a-z]/i.test(char)) return `[${char.toLowerCase()}${char.toUpperCase()}]`
      return /[*?[\]\\^]/.test(char) ? `\\${char}` : char
    })
    .join('')
}

function toStoredRecord(kind: RecordKind, key: string, id: string, ttlSeconds: number | null, value: unknown): AnyStoredRecord {
  if (kind === 'user_tokens') {
    return value === WRONG_TYPE ? {kind, key, id, ttlSeconds, problem: 'wrong Redis type: expected a set'} : {kind, key, id, ttlSeconds, size: value as number}
  }
  if (value === WRONG_TYPE) return {kind, key, id, ttlSeconds, problem: 'wrong Redis type: expected a string'} as AnyStoredRecord
  const parsed = parseRecord(kind, value as string)
  return (parsed.ok ? {kind, key, id, ttlSeconds, record: parsed.record} : {kind, key, id, ttlSeconds, problem: parsed.problem}) as AnyStoredRecord
}
