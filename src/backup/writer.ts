/**
 * Writes a backup of every `oauth:*` key (format: format.ts), streamed: on a
 * single server one script call per SCAN page that also reads the type,
 * absolute expiry and value of each key it found, within a bounded number of
 * bytes and members; on a cluster SCAN on every master, then TIME, TYPE +
 * PTTL and the values. Memory holds a page or two whatever the size of
 * Redis, and no call keeps Redis busy for long. Large values are read in
 * pages.
 * A key SCAN returns twice is written once. The file is written under a
 * temporary name in the target directory, fsynced, then linked to its name
 * only if that name is still free: a backup that was interrupted (Ctrl-C,
 * Redis gone) leaves no file behind, and an existing file is never replaced.
 */
import {createHash} from 'node:crypto'
import {open, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {Readable, type Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGzip} from 'node:zlib'

import {SECRET_FILE_MODE, publishWithoutReplacing, syncDirectory} from '../env/atomic-file.js'
import {makePrivateDirectory} from '../env/safe-paths.js'
import {encryptingStream} from './crypto.js'
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_LABEL,
  BACKUP_VERSION,
  type BackupCounts,
  type BackupHeader,
  type BackupRecord,
  type Bytes,
  MAX_EXPIRES_AT_MS,
  MAX_LINE_BYTES,
  type RedisType,
  countRecord,
  emptyCounts,
  bytesToText,
  isRedisType,
  nextBackupName,
  recordToLine,
  timeReplyMs,
} from './format.js'
import {KeyFingerprints} from './key-set.js'
import {readPaged} from './paged-values.js'
import {cancelledError, fileSystemError, usageError} from '../errors.js'
import {KEY_NAMESPACE} from '../store/records.js'
import {type RedisClient, type RedisCommand, defineScript, isCluster, runCommands, scanKeyBuffers, scanStepReplies} from '../redis/client.js'
import {namespaceSize} from '../redis/namespace-size.js'
import {READ_FOR_BACKUP, SCAN_FOR_BACKUP} from '../redis/scripts.js'

export interface BackupOptions {
  /** Path of the backup file to create; refused when it exists, unless numberIfTaken. */
  file: string
  /** A default name: when another backup took it meanwhile, take the next number (oauth-backup-…-2.jsonl) instead of refusing. */
  numberIfTaken?: boolean
  gzip: boolean
  /** Encrypts when set. */
  passphrase?: string
  /** Where the records come from, without password (describeRedisTarget), for the header. */
  source: string
  /** `mcpauth 0.1.0`, for the header. */
  tool: string
  signal?: AbortSignal
  onProgress?: (keysSeen: number) => void
  batchSize?: number
}

export interface BackupResult extends BackupCounts {
  file: string
  format: string
  gzip: boolean
  encrypted: boolean
  created_at: string
  source: string
  size_bytes: number
  /** Keys of a type a backup does not hold (zset, stream): left out and named. */
  skipped_unsupported: number
  /** Keys whose line would be longer than a backup line may be (MAX_LINE_BYTES): left out and named. */
  skipped_too_large: number
  skipped_keys: string[]
}

const DEFAULT_BATCH_SIZE = 1000
/** Keys per script call, several calls per round trip: each call stays well under a millisecond of Redis time. */
const KEYS_PER_CALL = 100
/** Value bytes one script call may read; a larger string is read in pages. */
const BYTES_PER_CALL = 256 * 1024
/** Collections with more members than this are read in pages (SSCAN/HSCAN/LRANGE). */
const MEMBERS_PER_CALL = 256
/** SCAN COUNT and value bytes of one SCAN_FOR_BACKUP call: a page of the gateway's records (~350 bytes each) fits whole. */
const SCAN_FOR_BACKUP_COUNT = 500
const SCAN_FOR_BACKUP_BYTES = 1024 * 1024
/** Members of sets, hashes and lists one script call reads in all: many middling sets in one call would keep Redis busy. */
const MEMBERS_IN_ALL_PER_CALL = 4096
/** Raw bytes of one value at most: a larger one cannot fit on a line however it is encoded. */
const MAX_VALUE_BYTES = MAX_LINE_BYTES
const SKIPPED_KEYS_REPORTED = 20
/** The fingerprint table is sized for the estimated oauth: keys and this much more (the estimate samples 200 keys); past that it grows a part at a time. */
const PRESIZE_MARGIN = 1.1

export async function writeBackup(redis: RedisClient, options: BackupOptions): Promise<BackupResult> {
  const {file} = options
  // Checked first so an operator is not told after an hour of reading; publishWithoutReplacing is what guarantees it.
  if (!options.numberIfTaken && (await exists(file))) throw alreadyExists(file)
  makePrivateDirectory(dirname(file))
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    created_at: new Date().toISOString(),
    source: options.source,
    tool: options.tool,
  }
  const result: BackupResult = {
    file,
    format: BACKUP_FORMAT_LABEL,
    gzip: options.gzip,
    encrypted: Boolean(options.passphrase),
    created_at: header.created_at,
    source: header.source,
    size_bytes: 0,
    ...emptyCounts(),
    skipped_unsupported: 0,
    skipped_too_large: 0,
    skipped_keys: [],
  }
  const stages: Transform[] = []
  if (options.gzip) stages.push(createGzip())
  if (options.passphrase) stages.push(await encryptingStream(options.passphrase, {gzip: options.gzip}))

  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`)
  // 'wx' (O_EXCL) never follows a link planted at the temporary name.
  const handle = await open(temp, 'wx', SECRET_FILE_MODE)
  // autoClose: false keeps the descriptor open for fsync; destroy() then lets go of it, or close() would wait forever.
  const output = handle.createWriteStream({autoClose: false})
  try {
    try {
      await pipeline([Readable.from(backupLines(redis, header, result, options)), ...stages, output], {signal: options.signal})
      await handle.sync()
      result.size_bytes = (await handle.stat()).size
    } finally {
      output.destroy()
      await handle.close()
    }
    result.file = await publish(temp, file, options.numberIfTaken)
  } catch (error) {
    await rm(temp, {force: true})
    if (options.signal?.aborted) throw cancelledError('Interrupted: the unfinished backup file was removed.')
    // A full disk names the backup, not its temporary file (which is gone).
    throw fileSystemError(error, file, 'write the backup')
  }
  await syncDirectory(dirname(file))
  return result
}

/** Gives the finished file its name without ever replacing one; a default name that was taken meanwhile gets the next number. */
async function publish(temp: string, file: string, numberIfTaken = false): Promise<string> {
  let target = file
  while (!(await publishWithoutReplacing(temp, target))) {
    if (!numberIfTaken) throw alreadyExists(file)
    target = join(dirname(file), nextBackupName(basename(target)))
  }
  return target
}

function alreadyExists(file: string) {
  return usageError(`${file} already exists: a backup is never overwritten.`, 'Choose another --output, or move the old file away.')
}

/** The header line, one line per key, and the trailer with counts and the checksum. */
async function* backupLines(redis: RedisClient, header: BackupHeader, result: BackupResult, options: BackupOptions): AsyncGenerator<string> {
  const hash = createHash('sha256')
  const hashed = (line: string): string => {
    hash.update(line)
    return line
  }
  yield hashed(`${JSON.stringify(header)}\n`)
  // SCAN may return a key twice (when Redis resizes its table meanwhile); a backup lists each key once.
  // Sized up front for the oauth: keys (estimated: DBSIZE counts other keys too), so it rarely grows.
  const written = new KeyFingerprints(Math.ceil((await namespaceSize(redis, KEY_NAMESPACE)).keys * PRESIZE_MARGIN))
  const encode = (records: BackupRecord[]): string => {
    let text = ''
    for (const record of records) {
      const line = recordToLine(record)
      // Three bytes per UTF-16 unit at most: only a long line needs its bytes counted.
      if (line.length * 3 >= MAX_LINE_BYTES && Buffer.byteLength(line) >= MAX_LINE_BYTES) {
        leaveOut(result, record.key, `larger than ${MAX_LINE_BYTES / 1024 / 1024} MiB`)
        continue
      }
      countRecord(result, record)
      text += `${line}\n`
    }
    return hashed(text)
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  const pages = isCluster(redis) ? scannedPages(redis, batchSize, written, result) : scriptPages(redis, batchSize, written, result)
  for await (const {keysSeen, records} of pages) {
    if (records.length > 0) yield encode(records)
    options.onProgress?.(keysSeen)
  }
  const {records, kinds, types} = result
  yield `${JSON.stringify({end: BACKUP_FORMAT, records, kinds, types, sha256: hash.digest('hex')})}\n`
}

/** Records read from Redis, and how many keys the walk has seen so far. */
interface RecordPage {
  keysSeen: number
  records: BackupRecord[]
}

/**
 * A single server: SCAN_FOR_BACKUP reads each SCAN page in the call that
 * scans it, a call ahead (scanStepReplies), so Redis reads a page while the
 * last one is encoded and written.
 */
async function* scriptPages(redis: RedisClient, batchSize: number, written: KeyFingerprints, result: BackupResult): AsyncGenerator<RecordPage> {
  const count = Math.min(batchSize, SCAN_FOR_BACKUP_COUNT)
  const replies = scanStepReplies<ScanForBackupReply>(
    redis,
    SCAN_FOR_BACKUP,
    [`${KEY_NAMESPACE}*`, count, SCAN_FOR_BACKUP_BYTES, MEMBERS_PER_CALL, MEMBERS_IN_ALL_PER_CALL],
    {buffers: true},
  )
  let keysSeen = 0
  for await (const [, keys, types, expiries, values] of replies) {
    keysSeen += keys.length
    const reads: KeyRead[] = []
    keys.forEach((key, index) => {
      const expiresAtMs = expiries[index] >= 0 ? expiries[index] : null
      if (written.add(key)) reads.push({key, type: String(types[index]), expiresAtMs, value: values[index] ?? undefined})
    })
    yield {keysSeen, records: await toRecords(redis, await readLeftOver(redis, reads), result)}
  }
}

/** Keys whose value the walk's call did not read (past one of its budgets): read again by key, those too large for that in pages. */
async function readLeftOver(redis: RedisClient, reads: KeyRead[]): Promise<KeyRead[]> {
  const unread = reads.filter(({type, value}) => value === undefined && isRedisType(type))
  if (unread.length === 0) return reads
  const readAgain = await readKeys(
    redis,
    unread.map(({key}) => key),
  )
  // By the key objects themselves: the readers hand back the very Buffers they were given.
  const byKey = new Map(readAgain.map((read) => [read.key, read]))
  return reads.map((read) => byKey.get(read.key) ?? read)
}

/** A cluster: SCAN every master, then each batch read by key while the last one is encoded. */
async function* scannedPages(redis: RedisClient, batchSize: number, written: KeyFingerprints, result: BackupResult): AsyncGenerator<RecordPage> {
  let keysSeen = 0
  let previous: Promise<BackupRecord[]> | undefined
  for await (const scanned of scanKeyBuffers(redis, `${KEY_NAMESPACE}*`, batchSize)) {
    keysSeen += scanned.length
    const keys = scanned.filter((key) => written.add(key))
    const reading = keys.length === 0 ? Promise.resolve([]) : readKeys(redis, keys).then((reads) => toRecords(redis, reads, result))
    reading.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
    if (previous) yield {keysSeen, records: await previous}
    previous = reading
  }
  if (previous) yield {keysSeen, records: await previous}
}

/**
 * Type, expiry and (when small) value of each key, TIME first: TIME + PTTL
 * is then never later than the real expiry. A key gone or retyped between
 * two round trips changed under us and is left out, as if scanned a moment
 * later.
 */
async function readKeys(redis: RedisClient, keys: Buffer[]): Promise<KeyRead[]> {
  const nowMs = timeReplyMs(await redis.time())
  return isCluster(redis) ? readTypesAndTtls(redis, keys, nowMs) : readByScript(redis, keys, nowMs)
}

/** The records of these keys, reading in pages the values not read yet. */
async function toRecords(redis: RedisClient, reads: KeyRead[], result: BackupResult): Promise<BackupRecord[]> {
  const wanted = reads.filter(({key, type}) => {
    if (type === 'none') return false
    if (isRedisType(type)) return true
    result.skipped_unsupported++
    leaveOut(result, key, type)
    return false
  })
  const records: BackupRecord[] = []
  for (const {key, type, expiresAtMs, value} of wanted) {
    const read = value === undefined ? await readPaged(redis, key, type as RedisType, MAX_VALUE_BYTES) : {value}
    if ('tooLarge' in read) leaveOut(result, key, `larger than ${MAX_LINE_BYTES / 1024 / 1024} MiB`)
    if (!('value' in read)) continue
    // An expiry beyond what a Date holds is brought forward to that (year 275760), never put later.
    records.push({key, type: type as RedisType, value: read.value, expiresAtMs: expiresAtMs === null ? null : Math.min(expiresAtMs, MAX_EXPIRES_AT_MS)})
  }
  return records
}

/** Names a key the backup leaves out (the first few), with why. */
function leaveOut(result: BackupResult, key: Bytes, why: string): void {
  if (why.startsWith('larger')) result.skipped_too_large++
  if (result.skipped_keys.length < SKIPPED_KEYS_REPORTED) result.skipped_keys.push(`${bytesToText(key)} (${why})`)
}

/** SCAN_FOR_BACKUP's reply, bytes throughout (see there). */
type ScanForBackupReply = [cursor: Buffer, keys: Buffer[], types: Buffer[], expiries: number[], values: Array<Buffer | Buffer[] | null>]

interface KeyRead {
  key: Buffer
  /** 'none' when the key is gone. */
  type: string
  /** Absolute, in ms; null when the key has no TTL. */
  expiresAtMs: number | null
  /** The whole value when it came with the type; otherwise read in pages. */
  value?: Buffer | Buffer[]
}

/** The absolute expiry of a PTTL read after Redis's clock said `nowMs`; a gone key (-2) reads as type 'none'. */
function keyRead(key: Buffer, type: string, pttl: number, nowMs: number, value?: Buffer | Buffer[]): KeyRead {
  return {key, type: pttl === -2 ? 'none' : type, expiresAtMs: pttl >= 0 ? nowMs + pttl : null, value}
}

/**
 * Short script calls, all sent in one round trip: each reads type, TTL and
 * value of its keys until its byte budget is spent; keys it did not get to
 * go out again in the next round trip.
 */
async function readByScript(redis: RedisClient, keys: Buffer[], nowMs: number): Promise<KeyRead[]> {
  defineScript(redis, READ_FOR_BACKUP)
  const reads: KeyRead[] = []
  let pending = keys
  while (pending.length > 0) {
    const calls: Buffer[][] = []
    for (let start = 0; start < pending.length; start += KEYS_PER_CALL) calls.push(pending.slice(start, start + KEYS_PER_CALL))
    const replies = (await runCommands(
      redis,
      calls.map(
        (callKeys): RedisCommand => [`${READ_FOR_BACKUP.name}Buffer`, callKeys.length, ...callKeys, BYTES_PER_CALL, MEMBERS_PER_CALL, MEMBERS_IN_ALL_PER_CALL],
      ),
    )) as Array<Array<Buffer | number | Buffer[] | null>>
    const left: Buffer[] = []
    calls.forEach((callKeys, call) => {
      const reply = replies[call]
      const done = reply.length / 3
      for (let index = 0; index < done; index++) {
        const value = (reply[index * 3 + 2] ?? undefined) as KeyRead['value']
        reads.push(keyRead(callKeys[index], String(reply[index * 3]), reply[index * 3 + 1] as number, nowMs, value))
      }
      left.push(...callKeys.slice(done))
    })
    pending = left
  }
  return reads
}

/** On a cluster, where a script sees one slot: TYPE and PTTL, auto-pipelined per node; values are read in pages. */
async function readTypesAndTtls(redis: RedisClient, keys: Buffer[], nowMs: number): Promise<KeyRead[]> {
  const meta = await runCommands(
    redis,
    keys.flatMap((key): RedisCommand[] => [
      ['type', key],
      ['pttl', key],
    ]),
  )
  const reads = keys.map((key, index) => keyRead(key, meta[index * 2] as string, meta[index * 2 + 1] as number, nowMs))
  // Small strings, the usual record, in one more round trip; the rest page by page.
  const strings = reads.filter(({type}) => type === 'string')
  const values = await runCommands(
    redis,
    strings.map(({key}): RedisCommand => ['getrangeBuffer', key, 0, BYTES_PER_CALL]),
    {ignoreWrongType: true},
  )
  strings.forEach((read, index) => {
    const value = values[index]
    if (Buffer.isBuffer(value) && value.length <= BYTES_PER_CALL) read.value = value
  })
  return reads
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
