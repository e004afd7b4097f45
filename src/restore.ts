/**
 * Restores a verified backup (backup-reader.ts) into Redis in pipelined
 * batches. Each key is written by one Lua script, atomically: the expiry check
 * on Redis's clock, the merge rule, the delete of an old value, the write and
 * its PEXPIREAT happen together or not at all. A restore that is interrupted
 * leaves complete keys only, and running it again finishes the job (in merge
 * mode the keys already restored are simply kept).
 */
import type {ChainableCommander, Redis} from 'ioredis'

import {type BackupRecord, timeReplyMs} from './backup-format.js'
import type {ExpiryBasis, VerifiedBackup} from './backup-reader.js'
import {cancelledError} from './errors.js'
import {KEY_NAMESPACE} from './records.js'
import {execPipeline} from './token-store.js'

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
  /** Keys that existed and were replaced by the backup's value (--overwrite, or written again after --clear). */
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
/** A batch also ends at this many value bytes, so a few huge sets do not make one huge pipeline. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
const SCAN_COUNT = 1000

const EXPIRED = -1
const KEPT = 0
const WRITTEN = 1
const OVERWRITTEN = 2

/**
 * KEYS[1] the key; ARGV: mode, type, absolute expiry in ms ('' for none), then
 * the value (members, or field, value, …). Returns one of the outcomes above.
 * The expiry is checked with Redis's TIME, the clock PEXPIREAT uses.
 */
const RESTORE_KEY = `
if ARGV[3] ~= '' then
  local now = redis.call('TIME')
  if tonumber(ARGV[3]) <= tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) then return ${EXPIRED} end
end
local existed = redis.call('EXISTS', KEYS[1]) == 1
if existed then
  if ARGV[1] == 'merge' then return ${KEPT} end
  redis.call('UNLINK', KEYS[1])
end
if ARGV[2] == 'string' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  local command = ({set = 'SADD', list = 'RPUSH', hash = 'HSET'})[ARGV[2]]
  for first = 4, #ARGV, 1000 do
    redis.call(command, KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
end
if ARGV[3] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
if existed then return ${OVERWRITTEN} end
return ${WRITTEN}
`
const RESTORE_COMMAND = 'mcpauthRestoreKey'

type RestoreKeyCommand = (key: Buffer, mode: string, type: string, expiresAt: string, ...value: Buffer[]) => ChainableCommander

export async function restoreBackup(redis: Redis, backup: VerifiedBackup, options: RestoreOptions): Promise<RestoreResult> {
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
  if (!(RESTORE_COMMAND in redis)) redis.defineCommand(RESTORE_COMMAND, {numberOfKeys: 1, lua: RESTORE_KEY})
  const startMs = timeReplyMs(await redis.time())
  if (options.mode === 'clear') result.cleared = await clearNamespace(redis, options.dryRun)
  let done = 0
  for await (const batch of batches(backup.records(startMs), options.batchSize ?? DEFAULT_BATCH_SIZE)) {
    if (options.signal?.aborted) throw interrupted(result, done)
    const outcomes = options.dryRun ? await predictBatch(redis, batch, options.mode) : await writeBatch(redis, batch, options.mode)
    for (const outcome of outcomes) {
      if (outcome === EXPIRED) result.skipped_expired++
      else if (outcome === KEPT) result.kept++
      else if (outcome === WRITTEN) result.written++
      else result.overwritten++
    }
    done += batch.length
    options.onProgress?.(done)
  }
  return result
}

async function writeBatch(redis: Redis, batch: BackupRecord[], mode: RestoreMode): Promise<number[]> {
  const pipeline = redis.pipeline()
  const restoreKey = (pipeline as unknown as Record<typeof RESTORE_COMMAND, RestoreKeyCommand>)[RESTORE_COMMAND].bind(pipeline)
  const scriptMode = mode === 'merge' ? 'merge' : 'overwrite'
  for (const {key, type, value, expiresAtMs} of batch) {
    restoreKey(key, scriptMode, type, expiresAtMs === null ? '' : String(expiresAtMs), ...(Array.isArray(value) ? value : [value]))
  }
  return (await execPipeline(pipeline)) as number[]
}

/** What writeBatch would do, from TIME and EXISTS; writes nothing. */
async function predictBatch(redis: Redis, batch: BackupRecord[], mode: RestoreMode): Promise<number[]> {
  const pipeline = redis.pipeline().time()
  for (const {key} of batch) pipeline.exists(key)
  const replies = await execPipeline(pipeline)
  const nowMs = timeReplyMs(replies[0])
  return batch.map(({expiresAtMs}, index) => {
    if (expiresAtMs !== null && expiresAtMs <= nowMs) return EXPIRED
    // After --clear nothing is left to keep or replace.
    if (mode === 'clear' || replies[index + 1] === 0) return WRITTEN
    return mode === 'merge' ? KEPT : OVERWRITTEN
  })
}

/** Deletes (or, for a dry run, counts) every `oauth:*` key, with SCAN and UNLINK in batches. */
async function clearNamespace(redis: Redis, dryRun: boolean): Promise<number> {
  let cleared = 0
  for await (const keys of redis.scanBufferStream({match: `${KEY_NAMESPACE}*`, count: SCAN_COUNT}) as AsyncIterable<Buffer[]>) {
    if (keys.length === 0) continue
    if (dryRun) cleared += keys.length
    else cleared += ((await execPipeline(redis.pipeline(keys.map((key) => ['unlink', key])))) as number[]).reduce((sum, removed) => sum + removed, 0)
  }
  return cleared
}

async function* batches(records: AsyncIterable<BackupRecord>, size: number): AsyncGenerator<BackupRecord[]> {
  let batch: BackupRecord[] = []
  let bytes = 0
  for await (const record of records) {
    batch.push(record)
    bytes += Array.isArray(record.value) ? record.value.reduce((sum, member) => sum + member.length, 0) : record.value.length
    if (batch.length >= size || bytes >= MAX_BATCH_BYTES) {
      yield batch
      batch = []
      bytes = 0
    }
  }
  if (batch.length > 0) yield batch
}

function interrupted(result: RestoreResult, done: number) {
  const what = result.dry_run ? 'Nothing was written.' : `${result.written + result.overwritten} keys were written, each complete.`
  return cancelledError(`Interrupted after ${done} of ${result.records} records. ${what} Run the same command again to finish.`)
}
