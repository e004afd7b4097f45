import {userIndexKey} from './records.js'
import type {AnyStoredRecord, IndexEntry, TokenStore, WalkOptions} from './token-store.js'

/** What a cascade removed (or, in a dry run, would remove), by kind. */
export interface CascadeSummary {
  dry_run: boolean
  access_tokens: number
  refresh_tokens: number
  codes: number
  states: number
  index_entries: number
  /** Keys that matched by name but whose value could not be read; left alone. */
  malformed_skipped: number
}

export type MatchableRecord = Exclude<AnyStoredRecord, {kind: 'user_tokens'}>

const CASCADE_FIELD = {token: 'access_tokens', refresh: 'refresh_tokens', code: 'codes', state: 'states'} as const
export type CascadeKind = keyof typeof CASCADE_FIELD

export interface CascadeRule {
  kinds: CascadeKind[]
  matches: (stored: MatchableRecord) => boolean
  /** User index sets to remove whole, found in the same walk. */
  matchesIndex?: (username: string) => boolean
}

export interface CascadeOptions extends WalkOptions {
  /** Walk and count, change nothing. */
  dryRun?: boolean
}

export interface CascadeOutcome {
  summary: CascadeSummary
  /** Index sets that matched `matchesIndex`, and ones the removal of their last entry made go. */
  indexSetsRemoved: number
  /** Each record's username (and each matching index set's), for the caller to report. */
  usernamesSeen: string[]
}

/** Distinct usernames reported back: a handful in practice; a hostile keyspace could hold many case variants. */
const USERNAMES_REPORTED = 100

/**
 * One pass over the keyspace deleting every record the rule matches, and the
 * index entries of the access tokens among them. A dry run takes the same
 * path and only skips the writes.
 */
export async function deleteMatching(store: TokenStore, rule: CascadeRule, options: CascadeOptions = {}): Promise<CascadeOutcome> {
  const dryRun = options.dryRun ?? false
  const summary: CascadeSummary = {dry_run: dryRun, access_tokens: 0, refresh_tokens: 0, codes: 0, states: 0, index_entries: 0, malformed_skipped: 0}
  const usernames = new Set<string>()
  const matchedIndexes: string[] = []
  let indexSetsEmptied = 0
  const kinds = rule.matchesIndex ? [...rule.kinds, 'user_tokens' as const] : rule.kinds
  for await (const batch of store.walk(kinds, options)) {
    const doomed: MatchableRecord[] = []
    for (const stored of batch) {
      if (stored.kind === 'user_tokens') {
        if (!stored.problem && rule.matchesIndex?.(stored.id)) matchedIndexes.push(stored.id)
      } else if (stored.kind !== 'client') {
        if (stored.problem) summary.malformed_skipped++
        else if (rule.matches(stored)) doomed.push(stored)
      }
    }
    for (const stored of doomed) noteUsername(usernames, recordUsername(stored))
    indexSetsEmptied += await deleteBatch(store, doomed, summary, dryRun)
  }
  for (const username of matchedIndexes) noteUsername(usernames, username)
  const unlinked = dryRun ? matchedIndexes.length : await store.unlinkKeys(matchedIndexes.map(userIndexKey))
  return {summary, indexSetsRemoved: unlinked + indexSetsEmptied, usernamesSeen: [...usernames].sort()}
}

export function recordUsername(stored: MatchableRecord): string | undefined {
  const username = stored.record && 'username' in stored.record ? stored.record.username : undefined
  return typeof username === 'string' ? username : undefined
}

/** Deletes one batch of matched records; returns the index sets their entries' removal left empty. */
async function deleteBatch(store: TokenStore, doomed: MatchableRecord[], summary: CascadeSummary, dryRun: boolean): Promise<number> {
  if (doomed.length === 0) return 0
  const indexEntries = doomed.flatMap((stored): IndexEntry[] =>
    stored.kind === 'token' && stored.record ? [{username: stored.record.username, jti: stored.id}] : [],
  )
  for (const stored of doomed) summary[CASCADE_FIELD[stored.kind as CascadeKind]]++
  if (dryRun) {
    summary.index_entries += await store.countIndexEntries(indexEntries)
    return 0
  }
  // Index entries first: a run cut off in between leaves tokens that a second run finds and deletes, whereas
  // entries left behind by tokens already gone would be found by nothing.
  const removal = await store.removeIndexEntries(indexEntries)
  summary.index_entries += removal.removed
  await store.unlinkKeys(doomed.map((stored) => stored.key))
  return removal.setsEmptied
}

function noteUsername(usernames: Set<string>, username: string | undefined): void {
  if (username !== undefined && usernames.size < USERNAMES_REPORTED) usernames.add(username)
}
