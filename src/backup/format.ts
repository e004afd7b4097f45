/**
 * The mcpauth backup file, format "mcpauth-backup" version 1: newline-delimited
 * JSON, one object per line (docs/backups.md).
 *
 *   header   {"format":"mcpauth-backup","version":1,"created_at":ISO-8601,"source":"redis://host:port/db","tool":"mcpauth 0.1.0"}
 *   record   {"key":K,"type":"string"|"set"|"list"|"hash","value":V,"expires_at_ms":ms|null}   (one line per key)
 *   trailer  {"end":"mcpauth-backup","records":n,"kinds":{client,state,code,token,refresh,user_tokens,other},
 *             "types":{string,set,list,hash},"sha256":hex}
 *
 * - K, and every string inside V, is UTF-8 text, or {"b64":"…"} when the bytes
 *   are not valid UTF-8, so binary values survive.
 * - V is a string for a string, an array of members for a set or a list (in
 *   order), an array of [field, value] pairs for a hash.
 * - expires_at_ms is the ABSOLUTE expiry in epoch milliseconds on Redis's clock
 *   (TIME + PTTL when read), null for a key without TTL: a restore sets what is
 *   left of it and never extends a lifetime.
 * - sha256 is the hex SHA-256 of every byte before the trailer (header and
 *   record lines, each with its "\n"). A file without a trailer is truncated;
 *   a mismatch in hash or counts means it was edited or damaged.
 *
 * Counts are in the trailer because the header is written before the keyspace
 * has been walked. The file may be gzip-compressed and then encrypted
 * (backup-crypto.ts); the lines inside are the same.
 */
import {ExitCode, McpAuthError} from '../errors.js'
import {KEY_NAMESPACE, RECORD_KINDS, type RecordKind, parseKey} from '../store/records.js'

export const BACKUP_FORMAT = 'mcpauth-backup'
export const BACKUP_VERSION = 1
/** How results and listings name this format. */
export const BACKUP_FORMAT_LABEL = `${BACKUP_FORMAT}/${BACKUP_VERSION}`
/** The gateway's Python scripts wrote this older format (backup-legacy.ts). */
export const LEGACY_FORMAT = 'gateway-json'
export const NOT_A_BACKUP = 'is not a backup: neither mcpauth-backup nor the gateway JSON format'
/**
 * The longest line a backup may hold. The writer leaves out a key whose line
 * would be longer (and names it); the reader refuses a longer line as damaged
 * before holding more of it, so a file that inflates to one endless line
 * costs bounded memory.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024
/** The latest expiry a backup may record: the largest time a JavaScript Date holds (year 275760), well inside what PEXPIREAT takes. */
export const MAX_EXPIRES_AT_MS = 8_640_000_000_000_000

export const REDIS_TYPES = ['string', 'set', 'list', 'hash'] as const
export type RedisType = (typeof REDIS_TYPES)[number]
export type KindName = RecordKind | 'other'

/**
 * Bytes as Redis holds them: a Buffer, or text (a string stands for its UTF-8
 * bytes). Read from a backup, text stays a string: no copy per value.
 */
export type Bytes = Buffer | string

/** One key as backed up and restored. */
export interface BackupRecord {
  key: Bytes
  type: RedisType
  /** string: its bytes; set and list: the members; hash: field, value, field, value, … */
  value: Bytes | Bytes[]
  /** Absolute expiry in epoch milliseconds; null when the key has no TTL. */
  expiresAtMs: number | null
}

export interface BackupCounts {
  records: number
  kinds: Record<KindName, number>
  types: Record<RedisType, number>
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  created_at: string
  source: string
  tool: string
}

export interface BackupTrailer extends BackupCounts {
  end: typeof BACKUP_FORMAT
  sha256: string
}

type EncodedBytes = string | {b64: string}

/** A backup file that cannot be used: unknown format, truncated, edited. Exit 2, nothing written. */
export class BackupFileError extends McpAuthError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`Backup ${file} ${problem}.`, {
      code: 'backup_invalid',
      exitCode: ExitCode.usage,
      hint: 'Nothing was written to Redis. oauth-backup-list shows which backups are complete.',
    })
  }
}

/** Raised while checking one line or entry; the reader adds the file and the position. */
export class RecordProblem extends Error {}

export function emptyCounts(): BackupCounts {
  return {
    records: 0,
    kinds: {client: 0, state: 0, code: 0, token: 0, refresh: 0, user_tokens: 0, other: 0},
    types: {string: 0, set: 0, list: 0, hash: 0},
  }
}

export function countRecord(counts: BackupCounts, record: Pick<BackupRecord, 'key' | 'type'>): void {
  counts.records++
  counts.kinds[kindOfKey(record.key)]++
  counts.types[record.type]++
}

export function sameCounts(a: BackupCounts, b: BackupCounts): boolean {
  return (
    a.records === b.records &&
    [...RECORD_KINDS, 'other' as const].every((kind) => a.kinds[kind] === b.kinds[kind]) &&
    REDIS_TYPES.every((type) => a.types[type] === b.types[type])
  )
}

export function kindOfKey(key: Bytes): KindName {
  return parseKey(bytesToText(key))?.kind ?? 'other'
}

/**
 * `oauth-backup-20261123-091500.jsonl`, `.jsonl.gz`, `.jsonl.enc`, `.jsonl.gz.enc`; the time is UTC.
 * A second backup within the same second is numbered when it is published (nextBackupName).
 */
export function defaultBackupName(options: {gzip: boolean; encrypted: boolean}, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/-|:/g, '').replace('T', '-')
  return `oauth-backup-${stamp}.jsonl${options.gzip ? '.gz' : ''}${options.encrypted ? '.enc' : ''}`
}

/** The name after `name` among backups of one second: `…-091500.jsonl` → `…-091500-2.jsonl` → `…-091500-3.jsonl`. */
export function nextBackupName(name: string): string {
  return name.replace(/-(\d{6})(?:-(\d+))?(\.jsonl)/, (_, time: string, sequence: string | undefined, extension: string) => {
    return `-${time}-${sequence ? Number(sequence) + 1 : 2}${extension}`
  })
}

export function recordToLine(record: BackupRecord): string {
  const {key, type, value, expiresAtMs} = record
  let encoded: unknown
  if (type === 'string') encoded = encodeBytes(value as Bytes)
  else if (type === 'hash') encoded = pairs(value as Bytes[]).map(([field, item]) => [encodeBytes(field), encodeBytes(item)])
  else encoded = (value as Bytes[]).map(encodeBytes)
  return JSON.stringify({key: encodeBytes(key), type, value: encoded, expires_at_ms: expiresAtMs})
}

/** Reads one record line's object; throws RecordProblem with what is wrong. */
export function recordFromLine(line: {[field: string]: unknown}): BackupRecord {
  const type = checkType(line.type)
  const key = decodeBytes(line.key, 'key')
  const expires = line.expires_at_ms
  if (expires !== null && !isExpiryMs(expires)) {
    throw new RecordProblem(`expires_at_ms ${shown(expires)} is neither null nor a time in milliseconds`)
  }
  const raw = line.value
  let value: Bytes | Bytes[]
  if (type === 'string') value = decodeBytes(raw, 'value')
  else if (!Array.isArray(raw)) throw new RecordProblem(`the value of a ${type} is not an array`)
  else if (type === 'hash') value = raw.flatMap((pair) => decodePair(pair))
  else value = raw.map((member) => decodeBytes(member, 'member'))
  return checkRecord({key, type, value, expiresAtMs: expires as number | null})
}

/** Rules every restored record meets, whichever format it came from. */
export function checkRecord(record: BackupRecord): BackupRecord {
  if (!isNamespacedKey(record.key)) throw new RecordProblem(`key ${shown(bytesToText(record.key))} lies outside ${KEY_NAMESPACE}`)
  if (record.type !== 'string' && (record.value as Bytes[]).length === 0) {
    throw new RecordProblem(`key ${shown(bytesToText(record.key))} is an empty ${record.type}, which Redis cannot hold`)
  }
  return record
}

/** A whole number of milliseconds since 1970 that Redis can take as an absolute expiry. */
export function isExpiryMs(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_EXPIRES_AT_MS
}

export function isRedisType(type: unknown): type is RedisType {
  return typeof type === 'string' && (REDIS_TYPES as readonly string[]).includes(type)
}

export function checkType(type: unknown): RedisType {
  if (isRedisType(type)) return type
  throw new RecordProblem(`unknown record type ${shown(type)} (expected ${REDIS_TYPES.join(', ')})`)
}

const NAMESPACE_BYTES = Buffer.from(KEY_NAMESPACE)

export function isNamespacedKey(key: Bytes): boolean {
  if (typeof key === 'string') return key.length > KEY_NAMESPACE.length && key.startsWith(KEY_NAMESPACE)
  return key.length > NAMESPACE_BYTES.length && key.subarray(0, NAMESPACE_BYTES.length).equals(NAMESPACE_BYTES)
}

export function bytesToText(bytes: Bytes): string {
  return typeof bytes === 'string' ? bytes : bytes.toString('utf8')
}

/** A value from a file as an error message may quote it: JSON, cut short. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 39)}…` : text
}

/** Redis's clock, which PTTL and PEXPIREAT use, from a TIME reply. */
export function timeReplyMs(reply: unknown): number {
  const [seconds, micros] = reply as [string | number, string | number]
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

/** Field, value, field, value, … as [field, value] pairs. */
export function pairs(flat: Bytes[]): Array<[Bytes, Bytes]> {
  const result: Array<[Bytes, Bytes]> = []
  for (let index = 0; index + 1 < flat.length; index += 2) result.push([flat[index], flat[index + 1]])
  return result
}

// `ignoreBOM` keeps a leading BOM in the text, so the bytes come back exactly.
const strictUtf8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

function encodeBytes(bytes: Bytes): EncodedBytes {
  if (typeof bytes === 'string') return bytes
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return {b64: bytes.toString('base64')}
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function decodeBytes(encoded: unknown, what: string): Bytes {
  if (typeof encoded === 'string') return encoded
  const b64 = (encoded as {b64?: unknown} | null)?.b64
  if (typeof b64 === 'string' && BASE64.test(b64) && Object.keys(encoded as object).length === 1) return Buffer.from(b64, 'base64')
  throw new RecordProblem(`a ${what} is neither text nor {"b64": …}`)
}

function decodePair(pair: unknown): Bytes[] {
  if (!Array.isArray(pair) || pair.length !== 2) throw new RecordProblem('a hash entry is not a [field, value] pair')
  return [decodeBytes(pair[0], 'hash field'), decodeBytes(pair[1], 'hash value')]
}
