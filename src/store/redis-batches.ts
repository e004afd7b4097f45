/**
 * How the token store's batch operations run in Redis: one script call per
 * batch on a single server; per-key commands on a cluster, where a script may
 * only touch keys of one slot and a record and its user index live in
 * different slots. Only TokenStore calls these.
 */
import {type RedisClient, type RedisCommand, WRONG_TYPE, defineScript, isCluster, runCommands, runScript} from '../redis/client.js'
import {DELETE_IF_STILL_EXPIRED, FIND_ORPHAN_ENTRIES, READ_RECORDS} from '../redis/scripts.js'
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

/** SREM of each entry; returns how many were there. */
export async function removeIndexEntries(redis: RedisClient, entries: readonly IndexEntry[]): Promise<number> {
  if (entries.length === 0) return 0
  const commands: RedisCommand[] = entries.map(({username, jti}) => ['srem', userIndexKey(username), jti])
  const results = await runCommands(redis, commands, {ignoreWrongType: true})
  return results.reduce<number>((sum, removed) => sum + (typeof removed === 'number' ? removed : 0), 0)
}

/**
 * Entries of the given index sets whose `oauth:token:{jti}` no longer exists.
 * With `remove` they also leave their sets (on a single server in the same
 * script, so each check and removal is atomic), and only the entries actually
 * removed are returned.
 */
export async function findOrphanEntries(redis: RedisClient, usernames: readonly string[], remove: boolean): Promise<IndexEntry[]> {
  if (usernames.length === 0) return []
  if (!isCluster(redis)) {
    const pairs = (await runScript(redis, FIND_ORPHAN_ENTRIES, usernames.map(userIndexKey), remove ? ['remove'] : [])) as Array<number | string>
    const orphans: IndexEntry[] = []
    for (let i = 0; i < pairs.length; i += 2) orphans.push({username: usernames[Number(pairs[i]) - 1], jti: String(pairs[i + 1])})
    return orphans
  }
  const memberLists = await runCommands(
    redis,
    usernames.map((username) => ['smembers', userIndexKey(username)]),
    {ignoreWrongType: true},
  )
  const entries = usernames.flatMap((username, position) => {
    const members = memberLists[position]
    return Array.isArray(members) ? members.map((jti: string) => ({username, jti})) : []
  })
  if (entries.length === 0) return []
  const existence = await runCommands(
    redis,
    entries.map(({jti}) => ['exists', accessTokenKey(jti)]),
  )
  const orphans = entries.filter((_, position) => existence[position] === 0)
  if (!remove || orphans.length === 0) return orphans
  const removed = await runCommands(
    redis,
    orphans.map(({username, jti}) => ['srem', userIndexKey(username), jti]),
    {ignoreWrongType: true},
  )
  return orphans.filter((_, position) => removed[position] === 1)
}

/**
 * One script call for the batch on a single server, which also drops each
 * deleted record's index entry. On a cluster one call per key, then the index
 * entries of the records deleted.
 */
export async function deleteIfStillExpired(redis: RedisClient, deletes: readonly ConditionalDelete[]): Promise<ConditionalDeleteOutcome> {
  if (deletes.length === 0) return {outcomes: [], indexEntriesRemoved: 0}
  const cluster = isCluster(redis)
  const scriptArgs = (change: ConditionalDelete): string[] => {
    const index = !cluster && change.indexEntry ? [userIndexKey(change.indexEntry.username), change.indexEntry.jti] : ['', '']
    return [change.expiryField, change.lifetime === undefined ? '' : String(change.lifetime), change.requireNoTtl ? '1' : '', ...index]
  }
  if (!cluster) {
    const [outcomes, indexEntriesRemoved] = (await runScript(
      redis,
      DELETE_IF_STILL_EXPIRED,
      deletes.map(({key}) => key),
      deletes.flatMap(scriptArgs),
    )) as [number[], number]
    return {outcomes, indexEntriesRemoved}
  }
  defineScript(redis, DELETE_IF_STILL_EXPIRED)
  const replies = (await runCommands(
    redis,
    deletes.map((change): RedisCommand => [DELETE_IF_STILL_EXPIRED.name, 1, change.key, ...scriptArgs(change)]),
  )) as Array<[number[], number]>
  const outcomes = replies.map(([[outcome]]) => outcome)
  const indexEntries = deletes.flatMap(({indexEntry}, position) => (indexEntry && outcomes[position] === 1 ? [indexEntry] : []))
  return {outcomes, indexEntriesRemoved: await removeIndexEntries(redis, indexEntries)}
}

/** EXPIREAT ... NX for each key (only while it still has no TTL, so a concurrent rewrite keeps its own); 1 when set. */
export async function expireAtIfNoTtl(redis: RedisClient, requests: ReadonlyArray<{key: string; at: number}>): Promise<number[]> {
  const replies = await runCommands(
    redis,
    requests.map(({key, at}): RedisCommand => ['expireat', key, at, 'NX']),
  )
  return replies.map(Number)
}
