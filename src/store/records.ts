/**
 * The gateway's Redis data model (DESIGN.md, "The gateway's Redis data
 * model"): key layout, record shapes and how a stored value is read. Values
 * are never rewritten by mcpauth, so fields it does not know survive as they are.
 */

import {LATEST_EPOCH_SECONDS} from '../time.js'

export const KEY_NAMESPACE = 'oauth:'

/** The latest time a record may name, 9999-12-31T23:59:59Z: beyond it a date cannot be shown, nor given to EXPIREAT. */
export const LATEST_RECORD_TIME = LATEST_EPOCH_SECONDS
/** Above this a time is in milliseconds (in seconds it would be past the year 33,000). */
const MILLISECONDS_ABOVE = 1e12

export const RECORD_KINDS = ['client', 'state', 'code', 'token', 'refresh', 'user_tokens'] as const
export type RecordKind = (typeof RECORD_KINDS)[number]
export type StringRecordKind = Exclude<RecordKind, 'user_tokens'>

/** Kinds the gateway always writes with a TTL; one without is a leftover. */
export const KINDS_THAT_ALWAYS_EXPIRE: ReadonlySet<RecordKind> = new Set(['state', 'code', 'token', 'refresh'])

export const keyPrefix = (kind: RecordKind): string => `${KEY_NAMESPACE}${kind}:`
export const clientKey = (clientId: string): string => keyPrefix('client') + clientId
export const stateKey = (state: string): string => keyPrefix('state') + state
export const codeKey = (code: string): string => keyPrefix('code') + code
export const accessTokenKey = (jti: string): string => keyPrefix('token') + jti
export const refreshTokenKey = (refreshToken: string): string => keyPrefix('refresh') + refreshToken
export const userIndexKey = (username: string): string => keyPrefix('user_tokens') + username

export function parseKey(key: string): {kind: RecordKind; id: string} | undefined {
  if (!key.startsWith(KEY_NAMESPACE)) return undefined
  const rest = key.slice(KEY_NAMESPACE.length)
  const separator = rest.indexOf(':')
  if (separator === -1) return undefined
  const kind = rest.slice(0, separator) as RecordKind
  if (!RECORD_KINDS.includes(kind)) return undefined
  return {kind, id: rest.slice(separator + 1)}
}

type UnknownFields = {[field: string]: unknown}

export interface ClientRegistration extends UnknownFields {
  client_id: string
  client_secret?: string
  /** Epoch seconds; 0 means the secret never expires. */
  client_secret_expires_at: number
  client_id_issued_at?: number
  client_name?: string
  scope?: string
  created_at?: number
  registration_access_token?: string
  /** Stored by the gateway as a JSON string inside the JSON record; decoded here. */
  redirect_uris: string[]
  response_types: string[]
  grant_types: string[]
}

export interface AuthorizationState extends UnknownFields {
  client_id: string
  redirect_uri?: string
  scope?: string
  state?: string
  code_challenge?: string
  code_challenge_method?: string
}

export interface AuthorizationCode extends AuthorizationState {
  user_id?: string
  username?: string
  email?: string | null
  name?: string | null
}

export interface AccessTokenRecord extends UnknownFields {
  sub?: string
  username: string
  /** Absent on refreshed tokens, null when GitHub has no public value. */
  email?: string | null
  name?: string | null
  scope?: string
  client_id: string
  created_at?: number
  expires_at: number
}

export interface RefreshTokenRecord extends UnknownFields {
  user_id?: string
  username: string
  client_id: string
  scope?: string
  created_at?: number
}

export interface RecordOfKind {
  client: ClientRegistration
  state: AuthorizationState
  code: AuthorizationCode
  token: AccessTokenRecord
  refresh: RefreshTokenRecord
}

export type ParsedRecord<T> = {ok: true; record: T} | {ok: false; problem: string}

/** Reads a stored string value as a record of the given kind, or says what is wrong with it. */
export function parseRecord<K extends StringRecordKind>(kind: K, raw: string): ParsedRecord<RecordOfKind[K]> {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return {ok: false, problem: 'value is not JSON'}
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {ok: false, problem: 'value is not a JSON object'}
  }
  const problem = RECORD_CHECKS[kind](value as UnknownFields)
  return problem ? {ok: false, problem} : {ok: true, record: value as RecordOfKind[K]}
}

const RECORD_CHECKS: Record<StringRecordKind, (fields: UnknownFields) => string | undefined> = {
  client: (fields) => requireStrings(fields, ['client_id']) ?? normalizeClient(fields),
  state: (fields) => requireStrings(fields, ['client_id']),
  code: (fields) => requireStrings(fields, ['client_id']),
  token: (fields) => requireStrings(fields, ['username', 'client_id']) ?? normalizeTimes(fields, ['expires_at'], ['created_at']),
  refresh: (fields) => requireStrings(fields, ['username', 'client_id']) ?? normalizeTimes(fields, [], ['created_at']),
}

function requireStrings(fields: UnknownFields, names: string[]): string | undefined {
  for (const name of names) {
    if (fields[name] === undefined || fields[name] === null) return `missing field ${name}`
    if (typeof fields[name] !== 'string') return `field ${name} is not a string`
  }
  return undefined
}

function normalizeTimes(fields: UnknownFields, required: string[], optional: string[]): string | undefined {
  for (const name of [...required, ...optional]) {
    if (fields[name] === undefined || fields[name] === null) {
      if (required.includes(name)) return `missing field ${name}`
      continue
    }
    const time = recordTime(fields[name])
    if (!time.ok) return `field ${name} ${time.problem}`
    fields[name] = time.seconds
  }
  return undefined
}

/**
 * A time as the gateway writes it: epoch seconds (or milliseconds), as a JSON
 * number or a numeric string, between 1970 and the year 9999. The purge's
 * Lua re-check reads times by the same rule (tonumber), so both agree.
 */
export function recordTime(value: unknown): {ok: true; seconds: number} | {ok: false; problem: string} {
  const numeric = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN
  if (!Number.isFinite(numeric)) return {ok: false, problem: 'is not a time'}
  const seconds = numeric > MILLISECONDS_ABOVE ? numeric / 1000 : numeric
  if (seconds < 0 || seconds > LATEST_RECORD_TIME) return {ok: false, problem: `is out of range (${String(value).slice(0, 40)})`}
  return {ok: true, seconds}
}

function normalizeClient(fields: UnknownFields): string | undefined {
  for (const name of ['redirect_uris', 'response_types', 'grant_types']) {
    const list = decodeStringList(fields[name])
    if (list === undefined) return `field ${name} is not a list`
    fields[name] = list
  }
  // 0 (or no value) is how RFC 7591 says "never expires".
  fields.client_secret_expires_at ??= 0
  return normalizeTimes(fields, [], ['client_secret_expires_at', 'created_at', 'client_id_issued_at'])
}

/** The gateway stores these lists as JSON strings inside the JSON record. */
function decodeStringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return []
  let list = value
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value)
    } catch {
      return value === '' ? [] : [value]
    }
  }
  return Array.isArray(list) && list.every((item) => typeof item === 'string') ? list : undefined
}
