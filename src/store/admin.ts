import {accessTokenKey, clientKey, userIndexKey} from './records.js'
import type {AnyStoredRecord, TokenStore, WalkOptions} from './token-store.js'

export interface DeleteTokenResult {
  jti: string
  deleted: boolean
  username?: string
  index_entries_removed: number
}

export interface DeleteRegistrationResult {
  client_id: string
  deleted: boolean
}

/** What a cascade removed, by kind. */
export interface CascadeSummary {
  access_tokens: number
  refresh_tokens: number
  codes: number
  states: number
  index_entries: number
  /** Keys that matched by name but whose value could not be read; left alone. */
  malformed_skipped: number
}

export interface DeleteClientCompleteResult extends CascadeSummary {
  client_id: string
  registration_deleted: boolean
}

export interface RevokeUserResult extends CascadeSummary {
  username: string
  index_deleted: boolean
}

/** Revokes one access token by its exact jti, and drops it from its user's index. */
export async function deleteAccessToken(store: TokenStore, jti: string): Promise<DeleteTokenResult> {
  const stored = await store.getAccessToken(jti)
  const deleted = (await store.unlinkKeys([accessTokenKey(jti)])) > 0
  const username = stored?.record?.username
  const indexEntriesRemoved = username ? await store.removeIndexEntries([{username, jti}]) : 0
  return {jti, deleted, username, index_entries_removed: indexEntriesRemoved}
}

export async function deleteClientRegistration(store: TokenStore, clientId: string): Promise<DeleteRegistrationResult> {
  const deleted = (await store.unlinkKeys([clientKey(clientId)])) > 0
  return {client_id: clientId, deleted}
}

/** The client and everything issued to it: access and refresh tokens, codes, states, index entries. */
export async function deleteClientComplete(store: TokenStore, clientId: string, options: WalkOptions = {}): Promise<DeleteClientCompleteResult> {
  const summary = await deleteMatching(store, (stored) => stored.record?.client_id === clientId, options)
  const registrationDeleted = (await store.unlinkKeys([clientKey(clientId)])) > 0
  return {client_id: clientId, registration_deleted: registrationDeleted, ...summary}
}

/**
 * Every token of one user, for incident response: access tokens, refresh
 * tokens (which could mint new ones) and unredeemed codes, then the index.
 */
export async function revokeUser(store: TokenStore, username: string, options: WalkOptions = {}): Promise<RevokeUserResult> {
  // The cascade empties the index as it goes, and Redis drops an empty set: ask first.
  const hadIndex = await store.userIndexExists(username)
  const summary = await deleteMatching(store, (stored) => recordUsername(stored) === username, options, ['token', 'refresh', 'code'])
  const leftover = (await store.unlinkKeys([userIndexKey(username)])) > 0
  return {username, index_deleted: hadIndex || leftover, ...summary}
}

type MatchableRecord = Exclude<AnyStoredRecord, {kind: 'user_tokens'}>

function recordUsername(stored: MatchableRecord): string | undefined {
  const username = stored.record && 'username' in stored.record ? stored.record.username : undefined
  return typeof username === 'string' ? username : undefined
}

const CASCADE_FIELD = {token: 'access_tokens', refresh: 'refresh_tokens', code: 'codes', state: 'states'} as const
type CascadeKind = keyof typeof CASCADE_FIELD

/** One pass over the keyspace deleting every record the predicate matches. */
async function deleteMatching(
  store: TokenStore,
  matches: (stored: MatchableRecord) => boolean,
  options: WalkOptions,
  kinds: CascadeKind[] = ['token', 'refresh', 'code', 'state'],
): Promise<CascadeSummary> {
  const summary: CascadeSummary = {access_tokens: 0, refresh_tokens: 0, codes: 0, states: 0, index_entries: 0, malformed_skipped: 0}
  for await (const batch of store.walk(kinds, options)) {
    const doomed = batch.filter((stored): stored is MatchableRecord => {
      if (stored.kind === 'user_tokens' || stored.kind === 'client') return false
      if (stored.problem) summary.malformed_skipped++
      return !stored.problem && matches(stored)
    })
    await deleteBatch(store, doomed, summary)
  }
  return summary
}

async function deleteBatch(store: TokenStore, doomed: MatchableRecord[], summary: CascadeSummary): Promise<void> {
  if (doomed.length === 0) return
  const indexEntries = doomed.flatMap((stored) => (stored.kind === 'token' && stored.record ? [{username: stored.record.username, jti: stored.id}] : []))
  // Index entries first: a run cut off in between leaves tokens that a second run finds and deletes, whereas
  // entries left behind by tokens already gone would be found by nothing.
  summary.index_entries += await store.removeIndexEntries(indexEntries)
  await store.unlinkKeys(doomed.map((stored) => stored.key))
  for (const stored of doomed) summary[CASCADE_FIELD[stored.kind as CascadeKind]]++
}
