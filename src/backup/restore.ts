/**
 * Restores a verified backup (reader.ts) into Redis in batches of one
 * round trip each, made of short script calls (a bounded number of keys and
 * bytes each, so no call keeps Redis busy for long). Every key is written
 * atomically by a script (RESTORE_KEYS in redis/scripts.ts): the expiry check
 * on Redis's clock, the merge rule, the removal of an old value, the write
 * and its PEXPIREAT happen together or not at all. A large value is built
 * under a staging name and renamed into place (staged-write.ts). A restore that is interrupted leaves complete keys
 * only, and running it again finishes the job (in merge mode the keys already
 * restored are simply kept). A script rather than MULTI, because MULTI cannot
 * say "only if the key is absent" for a set, list or hash.
 */
import {type BackupRecord, timeReplyMs} from './format.js'
import type {ExpiryBasis, VerifiedBackup} from './reader.js'
import {type Outcome, STAGE_PAGE_BYTES, stagingKey, writeStaged} from './staged-write.js'
import {cancelledError} from '../errors.js'
import {formatCount} from '../output.js'
import {KEY_NAMESPACE} from '../store/records.js'
import {type RedisClient, type RedisCommand, defineScript, isCluster, runCommands, scanKeyBuffers} from '../redis/client.js'
import {COMMIT_STAGED, RESTORE_KEYS, RESTORE_OUTCOME} from '../redis/scripts.js'

/** merge: existing keys are kept; overwrite: replaced; clear: every `oauth:*` key is deleted first. */
export type RestoreMode = 'merge' | 'overwrite' | 'clear'

export interface RestoreOptions {
  mode: RestoreMode
  dryRun: boolean
  signal?: AbortSignal
  onProgress?: (recordsDone: number) => void
  batchSize?: number
}

/** The `--json` summary of oauth-restore; with dry_run the counts say what would happen. */
export interface RestoreResult {
  file: string
  format: string
  encrypted: boolean
  gzip: boolean
  backup_created_at: string | null
  expiry: ExpiryBasis
  mode: RestoreMode
  dry_run: boolean
  /** Records in the backup. */
  records: number
  /** Keys that did not exist and were written. */
  written: number
  /** Keys that existed and were replaced by the backup's value (--overwrite). */
  overwritten: number
  /** Keys that existed and were left as they are (merge). */
  kept: number
  /** Records whose expiry had passed: not written. */
  skipped_expired: number
  /** `oauth:*` keys deleted before the restore (--clear). */
  cleared: number
  /** Entries outside `oauth:` in a gateway JSON backup (sessions): not restored. */
  ignored: number
}

const DEFAULT_BATCH_SIZE = 1000
/** A batch also ends at this many value bytes, so a few huge sets do not make one huge round trip. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
/** Keys and value bytes per script call: each call stays well under a millisecond of Redis time. */
const KEYS_PER_CALL = 50
const BYTES_PER_CALL = 128 * 1024
/** A value larger than this (bytes, or members) is staged in pages instead of written by one call. */
const LARGE_VALUE_ITEMS = 1000
const SCAN_COUNT = 1000
/** Batches sent to Redis and not yet answered, at most (each up to DEFAULT_BATCH_SIZE records and MAX_BATCH_BYTES). */
const BATCHES_IN_FLIGHT = 3

export async function restoreBackup(redis: RedisClient, backup: VerifiedBackup, options: RestoreOptions): Promise<RestoreResult> {
  const {info} = backup
  const result: RestoreResult = {
    file: info.file,
    format: info.format,
    encrypted: info.encrypted,
    gzip: info.gzip,
    backup_created_at: info.created_at,
    expiry: backup.expiry,
    mode: options.mode,
    dry_run: options.dryRun,
    records: info.counts.records,
    written: 0,
    overwritten: 0,
    kept: 0,
    skipped_expired: 0,
    cleared: 0,
    ignored: backup.ignored,
  }
  defineScript(redis, RESTORE_KEYS)
  defineScript(redis, COMMIT_STAGED)
  const startMs = timeReplyMs(await redis.time())
  if (options.mode === 'clear') result.cleared = await clearNamespace(redis, options.dryRun)
  let done = 0
  // A few batches are sent ahead while the next is read and decoded, so Redis always has one to work on.
  const inFlight: Array<Promise<void>> = []
  const apply = async (batch: BackupRecord[]): Promise<void> => {
    const outcomes = options.dryRun ? await predictBatch(redis, batch, options.mode) : await writeBatch(redis, batch, options.mode)
    tally(result, outcomes)
    done += batch.length
    options.onProgress?.(done)
  }
  try {
    for await (const batch of batches(backup.records(startMs), options.batchSize ?? DEFAULT_BATCH_SIZE)) {
      if (inFlight.length >= BATCHES_IN_FLIGHT) await inFlight.shift()
      if (options.signal?.aborted) {
        await Promise.all(inFlight)
        throw interrupted(result, done)
      }
      const applying = apply(batch)
      applying.catch(() => {}) // awaited in turn; this only keeps an early failure from counting as unhandled
      inFlight.push(applying)
    }
    await Promise.all(inFlight)
  } finally {
    // On a failure, the batches already sent finish (each key is written whole or not) before the error is reported.
    await Promise.allSettled(inFlight)
  }
  return result
}

function tally(result: RestoreResult, outcomes: Outcome[]): void {
  for (const outcome of outcomes) {
    if (outcome === RESTORE_OUTCOME.expired) result.skipped_expired++
    else if (outcome === RESTORE_OUTCOME.kept) result.kept++
    else if (outcome === RESTORE_OUTCOME.written) result.written++
    else result.overwritten++
  }
}

/**
 * Short script calls for the batch's small values, sent in one round trip on
 * a single server (one key per call on a cluster, where a script sees one
 * slot); large values one by one, staged. Outcomes in batch order.
 */
async function writeBatch(redis: RedisClient, batch: BackupRecord[], mode: RestoreMode): Promise<Outcome[]> {
  const scriptMode = mode === 'merge' ? 'merge' : 'overwrite'
  const outcomes: Outcome[] = new Array(batch.length)
  const calls: number[][] = []
  let call: number[] = []
  let callBytes = 0
  const large: number[] = []
  for (const [index, record] of batch.entries()) {
    const bytes = valueBytes(record)
    if (isLarge(record, bytes) && stagingKey(redis, record.key)) {
      large.push(index)
      continue
    }
    if (call.length === KEYS_PER_CALL || (call.length > 0 && callBytes + bytes > BYTES_PER_CALL) || isCluster(redis)) {
      if (call.length > 0) calls.push(call)
      call = []
      callBytes = 0
    }
    call.push(index)
    callBytes += bytes
  }
  if (call.length > 0) calls.push(call)
  const replies = (await runCommands(
    redis,
    calls.map((indexes) =>
      restoreCall(
        indexes.map((index) => batch[index]),
        scriptMode,
      ),
    ),
  )) as Outcome[][]
  for (const [callIndex, indexes] of calls.entries()) {
    for (const [position, index] of indexes.entries()) outcomes[index] = replies[callIndex][position]
  }
  for (const index of large) outcomes[index] = await writeStaged(redis, batch[index], stagingKey(redis, batch[index].key)!, scriptMode)
  return outcomes
}

/**
 * One RESTORE_KEYS call: the keys, the mode, then per key its type, expiry
 * ('' for none), the number of items and the items. Built in one array (a
 * million keys made three short-lived arrays each).
 */
function restoreCall(records: BackupRecord[], mode: string): RedisCommand {
  const command: Array<string | number | Buffer> = [RESTORE_KEYS.name, records.length]
  for (const {key} of records) command.push(key)
  command.push(mode)
  for (const {type, value, expiresAtMs} of records) {
    command.push(type, expiresAtMs === null ? '' : String(expiresAtMs))
    if (Array.isArray(value)) command.push(value.length, ...value)
    else command.push(1, value)
  }
  return command as RedisCommand
}

function valueBytes(record: BackupRecord): number {
  return Array.isArray(record.value) ? record.value.reduce((sum, member) => sum + member.length, 0) : record.value.length
}

function isLarge(record: BackupRecord, bytes: number): boolean {
  return bytes > STAGE_PAGE_BYTES || (Array.isArray(record.value) && record.value.length > LARGE_VALUE_ITEMS)
}

/** What writeBatch would do, from TIME and EXISTS; writes nothing. */
async function predictBatch(redis: RedisClient, batch: BackupRecord[], mode: RestoreMode): Promise<Outcome[]> {
  const nowMs = timeReplyMs(await redis.time())
  const exists = await runCommands(
    redis,
    batch.map(({key}): RedisCommand => ['exists', key]),
  )
  return batch.map(({expiresAtMs}, index) => {
    if (expiresAtMs !== null && expiresAtMs <= nowMs) return RESTORE_OUTCOME.expired
    // After --clear nothing is left to keep or replace.
    if (mode === 'clear' || exists[index] === 0) return RESTORE_OUTCOME.written
    return mode === 'merge' ? RESTORE_OUTCOME.kept : RESTORE_OUTCOME.overwritten
  })
}

/** Deletes (or, for a dry run, counts) every `oauth:*` key, with SCAN and UNLINK in batches. */
async function clearNamespace(redis: RedisClient, dryRun: boolean): Promise<number> {
  let cleared = 0
  for await (const keys of scanKeyBuffers(redis, `${KEY_NAMESPACE}*`, SCAN_COUNT)) {
    if (dryRun) cleared += keys.length
    else
      cleared += (
        (await runCommands(
          redis,
          keys.map((key): RedisCommand => ['unlink', key]),
        )) as number[]
      ).reduce((sum, removed) => sum + removed, 0)
  }
  return cleared
}

/** Regroups the runs of records as read from the file into batches of `size` records (or MAX_BATCH_BYTES). */
async function* batches(runs: AsyncIterable<BackupRecord[]>, size: number): AsyncGenerator<BackupRecord[]> {
  let batch: BackupRecord[] = []
  let bytes = 0
  for await (const run of runs) {
    for (const record of run) {
      batch.push(record)
      bytes += valueBytes(record)
      if (batch.length >= size || bytes >= MAX_BATCH_BYTES) {
        yield batch
        batch = []
        bytes = 0
      }
    }
  }
  if (batch.length > 0) yield batch
}

function interrupted(result: RestoreResult, done: number) {
  const what = result.dry_run ? 'Nothing was written.' : `${formatCount(result.written + result.overwritten)} keys were written, each complete.`
  return cancelledError(`Interrupted after ${formatCount(done)} of ${formatCount(result.records)} records. ${what} Run the same command again to finish.`)
}
