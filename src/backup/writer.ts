/**
 * Writes a backup of every `oauth:*` key (format: format.ts), streamed: on a
 * single server one script call per SCAN page that also reads TIME and the
 * type, PTTL and value of each key it found, within a bounded number of
 * bytes; on a cluster SCAN on every master, then TIME, TYPE + PTTL and the
 * values. Memory holds a page or two whatever the size of Redis and no call
 * keeps Redis busy for long. Large values are read in pages.
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
import {type RedisClient, type RedisCommand, defineScript, isCluster, runCommands, runScript, scanKeyBuffers} from '../redis/client.js'
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
/** Members of sets, hashes and lists one SCAN_FOR_BACKUP call reads in all; the rest are read by key afterwards. */
const SCAN_FOR_BACKUP_MEMBERS = 4096
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
 * scans it, and the next call is sent before this page is handed on, so
 * Redis reads a page while the last one is encoded and written.
 */
async function* scriptPages(redis: RedisClient, batchSize: number, written: KeyFingerprints, result: BackupResult): AsyncGenerator<RecordPage> {
  const count = Math.min(batchSize, SCAN_FOR_BACKUP_COUNT)
  const call = (cursor: string): Promise<ScanForBackupReply> => {
    const reply = runScript(
      redis,
      SCAN_FOR_BACKUP,
      [],
      [cursor, `${KEY_NAMESPACE}*`, count, SCAN_FOR_BACKUP_BYTES, MEMBERS_PER_CALL, SCAN_FOR_BACKUP_MEMBERS],
      {
        buffers: true,
      },
    ) as Promise<ScanForBackupReply>
    reply.catch(() => {}) // awaited below; this only keeps a failure during the caller's turn from counting as unhandled
    return reply
  }
  let keysSeen = 0
  let next: Promise<ScanForBackupReply> | undefined = call('0')
  while (next) {
    const [cursor, seconds, micros, keys, types, pttls, values]: ScanForBackupReply = await next
    next = String(cursor) === '0' ? undefined : call(String(cursor))
    keysSeen += keys.length
    const nowMs = timeReplyMs([String(seconds), String(micros)])
    const reads: KeyRead[] = []
    keys.forEach((key, index) => {
      if (written.add(key)) reads.push({key, type: String(types[index]), pttl: pttls[index], value: values[index] ?? undefined})
    })
    yield {keysSeen, records: await toRecords(redis, await readLeftOver(redis, reads), nowMs, result)}
  }
}

/** Values the walk's call did not read (its budget was spent): read like a batch of keys, large ones later in pages. */
async function readLeftOver(redis: RedisClient, reads: KeyRead[]): Promise<KeyRead[]> {
  const unread = reads.filter(({type, value}) => value === undefined && isRedisType(type))
  if (unread.length === 0) return reads
  const readAgain = await readByScript(
    redis,
    unread.map(({key}) => key),
  )
  // By the key objects themselves: readByScript hands back the very Buffers it was given.
  const byKey = new Map(readAgain.map((read) => [read.key, read]))
  return reads.map((read) => byKey.get(read.key) ?? read)
}

/** A cluster (or no scripts across slots): SCAN every master, then each batch read by key while the last one is encoded. */
async function* scannedPages(redis: RedisClient, batchSize: number, written: KeyFingerprints, result: BackupResult): AsyncGenerator<RecordPage> {
  let keysSeen = 0
  let previous: Promise<BackupRecord[]> | undefined
  for await (const scanned of scanKeyBuffers(redis, `${KEY_NAMESPACE}*`, batchSize)) {
    const keys = scanned.filter((key) => written.add(key))
    const reading = readRecords(redis, keys, result)
    reading.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
    if (previous) yield {keysSeen, records: await previous}
    previous = reading
    keysSeen += scanned.length
  }
  if (previous) yield {keysSeen, records: await previous}
}

/**
 * TYPE, PTTL and values of one SCAN batch. A key gone or retyped between two
 * round trips changed under us and is left out, as if scanned a moment later.
 */
async function readRecords(redis: RedisClient, keys: Buffer[], result: BackupResult): Promise<BackupRecord[]> {
  if (keys.length === 0) return []
  // TIME before PTTL (its own round trip, so also on a cluster): TIME + PTTL is never later than the real expiry.
  const nowMs = timeReplyMs(await redis.time())
  const reads = isCluster(redis) ? await readTypesAndTtls(redis, keys) : await readByScript(redis, keys)
  return toRecords(redis, reads, nowMs, result)
}

/** The records of keys read at `nowMs` (Redis's TIME, taken before their PTTL); values not read yet are read in pages. */
async function toRecords(redis: RedisClient, reads: KeyRead[], nowMs: number, result: BackupResult): Promise<BackupRecord[]> {
  const wanted = reads.filter(({key, type, pttl}) => {
    if (type === 'none' || pttl === -2) return false
    if (isRedisType(type)) return true
    result.skipped_unsupported++
    leaveOut(result, key, type)
    return false
  })
  const records: BackupRecord[] = []
  for (const {key, type, pttl, value} of wanted) {
    const read = value === undefined ? await readPaged(redis, key, type as RedisType, MAX_VALUE_BYTES) : {value}
    if ('tooLarge' in read) leaveOut(result, key, `larger than ${MAX_LINE_BYTES / 1024 / 1024} MiB`)
    if (!('value' in read)) continue
    // A TTL beyond what a Date holds is shortened to that (year 275760), never lengthened.
    const expiresAtMs = pttl >= 0 ? Math.min(nowMs + pttl, MAX_EXPIRES_AT_MS) : null
    records.push({key, type: type as RedisType, value: read.value, expiresAtMs})
  }
  return records
}

/** Names a key the backup leaves out (the first few), with why. */
function leaveOut(result: BackupResult, key: Bytes, why: string): void {
  if (why.startsWith('larger')) result.skipped_too_large++
  if (result.skipped_keys.length < SKIPPED_KEYS_REPORTED) result.skipped_keys.push(`${bytesToText(key)} (${why})`)
}

/** SCAN_FOR_BACKUP's reply, bytes throughout (see there). */
type ScanForBackupReply = [
  cursor: Buffer,
  seconds: Buffer,
  micros: Buffer,
  keys: Buffer[],
  types: Buffer[],
  pttls: number[],
  values: Array<Buffer | Buffer[] | null>,
]

interface KeyRead {
  key: Buffer
  type: string
  pttl: number
  /** The whole value when it came with the type; otherwise read in pages. */
  value?: Buffer | Buffer[]
}

/**
 * Short script calls, all sent in one round trip: each reads type, TTL and
 * value of its keys until its byte budget is spent; keys it did not get to
 * go out again in the next round trip.
 */
async function readByScript(redis: RedisClient, keys: Buffer[]): Promise<KeyRead[]> {
  defineScript(redis, READ_FOR_BACKUP)
  const reads: KeyRead[] = []
  let pending = keys
  while (pending.length > 0) {
    const calls: Buffer[][] = []
    for (let start = 0; start < pending.length; start += KEYS_PER_CALL) calls.push(pending.slice(start, start + KEYS_PER_CALL))
    const replies = (await runCommands(
      redis,
      calls.map((callKeys): RedisCommand => [`${READ_FOR_BACKUP.name}Buffer`, callKeys.length, ...callKeys, BYTES_PER_CALL, MEMBERS_PER_CALL]),
    )) as Array<Array<Buffer | number | Buffer[] | null>>
    const left: Buffer[] = []
    calls.forEach((callKeys, call) => {
      const reply = replies[call]
      const done = reply.length / 3
      for (let index = 0; index < done; index++) {
        const value = reply[index * 3 + 2]
        reads.push({
          key: callKeys[index],
          type: String(reply[index * 3]),
          pttl: reply[index * 3 + 1] as number,
          value: (value ?? undefined) as KeyRead['value'],
        })
      }
      left.push(...callKeys.slice(done))
    })
    pending = left
  }
  return reads
}

/** On a cluster, where a script sees one slot: TYPE and PTTL, auto-pipelined per node; values are read in pages. */
async function readTypesAndTtls(redis: RedisClient, keys: Buffer[]): Promise<KeyRead[]> {
  const meta = await runCommands(
    redis,
    keys.flatMap((key): RedisCommand[] => [
      ['type', key],
      ['pttl', key],
    ]),
  )
  const reads = keys.map((key, index) => ({key, type: meta[index * 2] as string, pttl: meta[index * 2 + 1] as number}))
  // Small strings, the usual record, in one more round trip; the rest page by page.
  const strings = reads.filter(({type}) => type === 'string')
  const values = await runCommands(
    redis,
    strings.map(({key}): RedisCommand => ['getrangeBuffer', key, 0, BYTES_PER_CALL]),
    {ignoreWrongType: true},
  )
  strings.forEach((read, index) => {
    const value = values[index]
    if (Buffer.isBuffer(value) && value.length <= BYTES_PER_CALL) (read as KeyRead).value = value
  })
  return reads
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
