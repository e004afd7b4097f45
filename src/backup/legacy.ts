/**
 * The JSON backups written by the gateway's Python scripts
 * (`backups/oauth-backup-YYYYMMDD-HHMMSS.json`, DESIGN.md "Backups"):
 *
 *   {"timestamp": "2025-06-20T10:30:00.123456+00:00", "metadata": {...},
 *    "registrations": {...}, "tokens": {...}, "refresh_tokens": {...},
 *    "user_tokens": {...}, "states": {...}, "codes": {...}, "sessions": {...}}
 *
 * Each section maps the key without its `oauth:<kind>:` prefix to
 * {value, type, ttl, parsed?}. For sets, lists and hashes the script stored
 * `value` as a JSON string of the members (or of the field map); both that and
 * a plain array or object are accepted. `ttl` is in seconds, counted from
 * `timestamp`; -1 or missing means no TTL. "sessions" held `redis:session:*`
 * keys, outside `oauth:`; they are counted and left out.
 *
 * The format has no checksum; it is read whole with JSON.parse (the scripts
 * held it in memory too) and every entry is checked before anything is written.
 */
import {
  type BackupCounts,
  type BackupRecord,
  MAX_EXPIRES_AT_MS,
  NOT_A_BACKUP,
  type RedisType,
  RecordProblem,
  checkRecord,
  checkType,
  countRecord,
  emptyCounts,
  shown,
} from './format.js'
import {type RecordKind, keyPrefix} from '../store/records.js'
import {toEpochSeconds} from '../time.js'

export interface LegacyBackup {
  /** When the backup was taken, if its timestamp can be read. */
  createdAtMs: number | null
  counts: BackupCounts
  /** Entries of sections outside `oauth:` (sessions), not restored. */
  ignored: number
  /** Absolute expiries: from the backup's timestamp, or from `nowMs` when it has none. */
  records(nowMs: number): Iterable<BackupRecord>
}

/** The longest TTL an entry may record: ten years more than any gateway lifetime, far below what makes a time overflow. */
const MAX_TTL_SECONDS = 100 * 365 * 86_400

const SECTIONS: Readonly<Record<string, RecordKind>> = {
  registrations: 'client',
  tokens: 'token',
  refresh_tokens: 'refresh',
  user_tokens: 'user_tokens',
  states: 'state',
  codes: 'code',
}
const IGNORED_SECTIONS = new Set(['sessions'])
const OTHER_FIELDS = new Set(['timestamp', 'metadata'])

interface LegacyEntry {
  record: Omit<BackupRecord, 'expiresAtMs'>
  ttlSeconds: number | null
}

/** Checks the whole document; throws RecordProblem naming the first bad entry. */
export function parseLegacyBackup(document: unknown): LegacyBackup {
  if (!isObject(document) || !('timestamp' in document) || !Object.keys(document).some((name) => name in SECTIONS)) {
    throw new RecordProblem(NOT_A_BACKUP)
  }
  const entries: LegacyEntry[] = []
  const counts = emptyCounts()
  let ignored = 0
  for (const [name, section] of Object.entries(document)) {
    if (OTHER_FIELDS.has(name)) continue
    if (!isObject(section)) throw new RecordProblem(`section "${name}" is not an object`)
    if (IGNORED_SECTIONS.has(name)) {
      ignored += Object.keys(section).length
      continue
    }
    const kind = SECTIONS[name]
    if (!kind) throw new RecordProblem(`unknown section "${name}"`)
    for (const [id, entry] of Object.entries(section)) {
      try {
        const parsed = parseEntry(kind, id, entry)
        countRecord(counts, parsed.record)
        entries.push(parsed)
      } catch (error) {
        if (error instanceof RecordProblem) throw new RecordProblem(`${name}[${shown(id)}]: ${error.message}`)
        throw error
      }
    }
  }
  const createdAtMs = backupTime(document.timestamp)
  return {
    createdAtMs,
    counts,
    ignored,
    *records(nowMs: number) {
      // A timestamp in the future (a wrong clock, an edited file) counts as now: a TTL is never longer than the one recorded.
      const base = createdAtMs === null ? nowMs : Math.min(createdAtMs, nowMs)
      for (const {record, ttlSeconds} of entries) yield {...record, expiresAtMs: ttlSeconds === null ? null : base + ttlSeconds * 1000}
    },
  }
}

function parseEntry(kind: RecordKind, id: string, entry: unknown): LegacyEntry {
  if (!isObject(entry)) throw new RecordProblem('entry is not an object')
  const type = checkType(entry.type)
  const ttl = entry.ttl ?? -1
  if (!Number.isSafeInteger(ttl) || (ttl as number) < -1 || (ttl as number) > MAX_TTL_SECONDS) {
    throw new RecordProblem(`ttl ${shown(entry.ttl)} is not a number of seconds from -1 (none) to ${MAX_TTL_SECONDS}`)
  }
  const key = Buffer.from(keyPrefix(kind) + id)
  const record = checkRecord({key, type, value: legacyValue(type, entry.value), expiresAtMs: null})
  return {record, ttlSeconds: ttl === -1 ? null : (ttl as number)}
}

/** The backup's time in epoch ms; null when it is missing or not a time between 1970 and the latest a Date holds. */
function backupTime(timestamp: unknown): number | null {
  const seconds = toEpochSeconds(timestamp)
  if (seconds === undefined) return null
  const ms = Math.round(seconds * 1000)
  return ms >= 0 && ms <= MAX_EXPIRES_AT_MS ? ms : null
}

function legacyValue(type: RedisType, value: unknown): Buffer | Buffer[] {
  if (type === 'string') {
    if (typeof value !== 'string') throw new RecordProblem('the value of a string is not text')
    return Buffer.from(value)
  }
  let members = value
  if (typeof value === 'string') {
    try {
      members = JSON.parse(value)
    } catch {
      throw new RecordProblem(`the value of a ${type} is not JSON`)
    }
  }
  if (type === 'hash') {
    if (!isObject(members) || !Object.values(members).every((item) => typeof item === 'string')) {
      throw new RecordProblem('the value of a hash is not an object of strings')
    }
    return Object.entries(members).flatMap(([field, item]) => [Buffer.from(field), Buffer.from(item as string)])
  }
  if (!Array.isArray(members) || !members.every((item) => typeof item === 'string')) {
    throw new RecordProblem(`the value of a ${type} is not a list of strings`)
  }
  return members.map((member) => Buffer.from(member))
}

function isObject(value: unknown): value is {[field: string]: unknown} {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
