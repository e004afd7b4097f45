import {type CascadeOptions, type CascadeSummary, deleteMatching, recordUsername} from './cascade.js'
import {accessTokenKey, clientKey} from './records.js'
import type {TokenStore} from './token-store.js'

export type {CascadeSummary} from './cascade.js'

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

export interface DeleteClientCompleteResult extends CascadeSummary {
  client_id: string
  registration_deleted: boolean
}

export interface RevokeUserResult extends CascadeSummary {
  username: string
  /** The exact usernames whose records or index sets matched (GitHub logins ignore case). */
  matched_usernames: string[]
  index_deleted: boolean
}

/** Revokes one access token by its exact jti, and drops it from its user's index. */
export async function deleteAccessToken(store: TokenStore, jti: string): Promise<DeleteTokenResult> {
  const stored = await store.getAccessToken(jti)
  const deleted = (await store.unlinkKeys([accessTokenKey(jti)])) > 0
  const username = stored?.record?.username
  const indexEntriesRemoved = username ? (await store.removeIndexEntries([{username, jti}])).removed : 0
  return {jti, deleted, username, index_entries_removed: indexEntriesRemoved}
}

export async function deleteClientRegistration(store: TokenStore, clientId: string): Promise<DeleteRegistrationResult> {
  const deleted = (await store.unlinkKeys([clientKey(clientId)])) > 0
  return {client_id: clientId, deleted}
}

/** The client and everything issued to it: access and refresh tokens, codes, states, index entries. */
export async function deleteClientComplete(store: TokenStore, clientId: string, options: CascadeOptions = {}): Promise<DeleteClientCompleteResult> {
  const {summary} = await deleteMatching(
    store,
    {kinds: ['token', 'refresh', 'code', 'state'], matches: (stored) => stored.record?.client_id === clientId},
    options,
  )
  const registrationDeleted = options.dryRun ? (await store.getClient(clientId)) !== undefined : (await store.unlinkKeys([clientKey(clientId)])) > 0
  return {client_id: clientId, registration_deleted: registrationDeleted, ...summary}
}

/**
 * Every token of one user, for incident response: access tokens, refresh
 * tokens (which could mint new ones) and unredeemed codes, then the user's
 * index. GitHub logins ignore case, so `Mallory` also finds `mallory`'s.
 */
export async function revokeUser(store: TokenStore, username: string, options: CascadeOptions = {}): Promise<RevokeUserResult> {
  const wanted = username.toLowerCase()
  const sameUser = (name: string | undefined) => name !== undefined && name.toLowerCase() === wanted
  const outcome = await deleteMatching(
    store,
    {kinds: ['token', 'refresh', 'code'], matches: (stored) => sameUser(recordUsername(stored)), matchesIndex: sameUser},
    options,
  )
  return {username, matched_usernames: outcome.usernamesSeen, index_deleted: outcome.indexSetsRemoved > 0, ...outcome.summary}
}

/** What a confirmation can say about a user before the walk: their index sets, found by a cheap keyspace scan. */
export async function userIndexSummary(store: TokenStore, username: string): Promise<{usernames: string[]; indexedTokens: number}> {
  const indexes = await store.userIndexesIgnoringCase(username)
  return {usernames: indexes.map((index) => index.username).sort(), indexedTokens: indexes.reduce((sum, index) => sum + index.size, 0)}
}
