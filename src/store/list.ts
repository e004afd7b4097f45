import {KeepFirst} from './bounded-heap.js'
import type {StoredRecord, TokenStore, WalkOptions} from './token-store.js'

/** One access token as `oauth-list-tokens` shows it (and its `--json` row). */
export interface AccessTokenView {
  jti: string
  username: string | null
  sub: string | null
  email: string | null
  client_id: string | null
  client_name: string | null
  scope: string | null
  created_at: number | null
  expires_at: number | null
  ttl_seconds: number | null
  expired: boolean
  problem: string | null
}

export interface AccessTokenFilter {
  username?: string
  clientId?: string
  expiredOnly?: boolean
  now?: number
}

/** One client registration as `oauth-list-registrations` shows it; secrets are left to the renderer. */
export interface ClientView {
  client_id: string
  client_name: string | null
  scope: string | null
  redirect_uris: string[]
  grant_types: string[]
  created_at: number | null
  client_secret_expires_at: number | null
  ttl_seconds: number | null
  client_secret: string | null
  registration_access_token: string | null
  problem: string | null
}

/** The rows a limited table shows, and how many there were in all. */
export interface TableRows<T> {
  shown: T[]
  total: number
  malformed: number
}

/** Soonest expiry first; records without a readable expiry (malformed) come first, where they are seen. */
export const soonestExpiryFirst = (a: AccessTokenView, b: AccessTokenView): number => (a.expires_at ?? 0) - (b.expires_at ?? 0) || compareText(a.jti, b.jti)

/** Oldest registration first. */
export const oldestRegistrationFirst = (a: ClientView, b: ClientView): number =>
  (a.created_at ?? 0) - (b.created_at ?? 0) || compareText(a.client_id, b.client_id)

/**
 * The first `limit` rows of a streamed list in `order` (0: every row), counting
 * every row and the malformed ones. Only `limit` rows are held at any time, so
 * the answer is right and memory stays flat however many records stream by.
 */
export async function firstRows<T extends {problem: string | null}>(
  batches: AsyncIterable<T[]>,
  limit: number,
  order: (a: T, b: T) => number,
): Promise<TableRows<T>> {
  const kept = new KeepFirst<T>(limit === 0 ? Number.POSITIVE_INFINITY : limit, order)
  let total = 0
  let malformed = 0
  for await (const batch of batches) {
    for (const row of batch) {
      total++
      if (row.problem) malformed++
      kept.add(row)
    }
  }
  return {shown: kept.drain(), total, malformed}
}

/** Access tokens matching the filter, in batches, with client names resolved. */
export async function* listAccessTokens(store: TokenStore, filter: AccessTokenFilter = {}, options: WalkOptions = {}): AsyncGenerator<AccessTokenView[]> {
  const now = filter.now ?? Date.now() / 1000
  for await (const batch of store.walk(['token'], options)) {
    const views = (batch as StoredRecord<'token'>[]).map((stored) => toAccessTokenView(stored, now)).filter((view) => matchesFilter(view, filter))
    if (views.length === 0) continue
    const names = await store.clientNames(views.flatMap((view) => (view.client_id ? [view.client_id] : [])))
    for (const view of views) if (view.client_id) view.client_name = names.get(view.client_id) ?? null
    yield views
  }
}

export async function* listClients(store: TokenStore, options: WalkOptions = {}): AsyncGenerator<ClientView[]> {
  for await (const batch of store.walk(['client'], options)) {
    yield (batch as StoredRecord<'client'>[]).map(toClientView)
  }
}

function toAccessTokenView(stored: StoredRecord<'token'>, now: number): AccessTokenView {
  const record = stored.record
  const expiresAt = record?.expires_at ?? null
  return {
    jti: stored.id,
    username: record?.username ?? null,
    sub: record?.sub === undefined || record.sub === null ? null : String(record.sub),
    email: record?.email ?? null,
    client_id: record?.client_id ?? null,
    client_name: null,
    scope: record?.scope ?? null,
    created_at: record?.created_at ?? null,
    expires_at: expiresAt,
    ttl_seconds: stored.ttlSeconds,
    expired: expiresAt !== null && expiresAt <= now,
    problem: stored.problem ?? null,
  }
}

function matchesFilter(view: AccessTokenView, filter: AccessTokenFilter): boolean {
  if (filter.username !== undefined && view.username !== filter.username) return false
  if (filter.clientId !== undefined && view.client_id !== filter.clientId) return false
  if (filter.expiredOnly && !view.expired) return false
  return true
}

function toClientView(stored: StoredRecord<'client'>): ClientView {
  const record = stored.record
  const secretExpiry = record?.client_secret_expires_at
  return {
    client_id: record?.client_id ?? stored.id,
    client_name: record?.client_name ?? null,
    scope: record?.scope ?? null,
    redirect_uris: record?.redirect_uris ?? [],
    grant_types: record?.grant_types ?? [],
    created_at: record?.created_at ?? record?.client_id_issued_at ?? null,
    client_secret_expires_at: secretExpiry ? secretExpiry : null,
    ttl_seconds: stored.ttlSeconds,
    client_secret: record?.client_secret ?? null,
    registration_access_token: record?.registration_access_token ?? null,
    problem: stored.problem ?? null,
  }
}

function compareText(a: string, b: string): number {
  if (a === b) return 0
  return a < b ? -1 : 1
}
