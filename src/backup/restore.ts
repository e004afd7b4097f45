/**
 * Restores a verified backup (reader.ts) into Redis in batches of one
 * round trip each. Every key is written atomically by a script (RESTORE_KEYS in
 * redis/scripts.ts), atomically: the expiry check on Redis's clock, the merge
 * rule, the removal of an old value, the write and its PEXPIREAT happen
 * together or not at all. A restore that is interrupted leaves complete keys
 * only, and running it again finishes the job (in merge mode the keys already
 * restored are simply kept). A script rather than MULTI, because MULTI cannot
 * say "only if the key is absent" for a set, list or hash.
 */
import {type BackupRecord, timeReplyMs} from './format.js'
import type {ExpiryBasis, VerifiedBackup} from './reader.js'
import {cancelledError} from '../errors.js'
import {KEY_NAMESPACE} from '../store/records.js'
import {type RedisClient, type RedisCommand, defineScript, isCluster, runCommands, runScript, scanKeyBuffers} from '../redis/client.js'
import {RESTORE_KEYS, RESTORE_OUTCOME} from '../redis/scripts.js'

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

const DEFAULT_BATCH_SIZE = 500
/** A batch also ends at this many value bytes, so a few huge sets do not make one huge round trip. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const SCAN_COUNT = 1000

type Outcome = (typeof RESTORE_OUTCOME)[keyof typeof RESTORE_OUTCOME]

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
  const startMs = timeReplyMs(await redis.time())
  if (options.mode === 'clear') result.cleared = await clearNamespace(redis, options.dryRun)
  let done = 0
  // One batch is written while the next is read and decoded: at most two batches in memory.
  let inFlight: Promise<void> | undefined
  const apply = async (batch: BackupRecord[]): Promise<void> => {
    const outcomes = options.dryRun ? await predictBatch(redis, batch, options.mode) : await writeBatch(redis, batch, options.mode)
    tally(result, outcomes)
    done += batch.length
    options.onProgress?.(done)
  }
  for await (const batch of batches(backup.records(startMs), options.batchSize ?? DEFAULT_BATCH_SIZE)) {
    await inFlight
    if (options.signal?.aborted) throw interrupted(result, done)
    inFlight = apply(batch)
    inFlight.catch(() => {}) // awaited on the next turn or below; this only keeps an early failure from counting as unhandled
  }
  await inFlight
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

/** One script call for the batch on a single server; one per key on a cluster, where a script sees one slot. */
async function writeBatch(redis: RedisClient, batch: BackupRecord[], mode: RestoreMode): Promise<Outcome[]> {
  const scriptMode = mode === 'merge' ? 'merge' : 'overwrite'
  const keyArgs = batch.map(({type, value, expiresAtMs}) => {
    const items = Array.isArray(value) ? value : [value]
    return [type, expiresAtMs === null ? '' : String(expiresAtMs), items.length, ...items]
  })
  if (isCluster(redis)) {
    const commands = batch.map(({key}, index): RedisCommand => [RESTORE_KEYS.name, 1, key, scriptMode, ...keyArgs[index]])
    return ((await runCommands(redis, commands)) as Outcome[][]).map(([outcome]) => outcome)
  }
  return (await runScript(
    redis,
    RESTORE_KEYS,
    batch.map(({key}) => key),
    [scriptMode, ...keyArgs.flat()],
  )) as Outcome[]
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
      bytes += Array.isArray(record.value) ? record.value.reduce((sum, member) => sum + member.length, 0) : record.value.length
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
  const what = result.dry_run ? 'Nothing was written.' : `${result.written + result.overwritten} keys were written, each complete.`
  return cancelledError(`Interrupted after ${done} of ${result.records} records. ${what} Run the same command again to finish.`)
}
