/**
 * Writes a backup of every `oauth:*` key (format: format.ts), streamed:
 * SCAN in batches (every master of a cluster), then TIME, and type, PTTL and
 * value of every key of the batch in one script call (on a cluster: TYPE +
 * PTTL, then the values, in one round trip each), so memory holds a batch or
 * two whatever the size of Redis. The file is written under a temporary name
 * in the target directory, fsynced, then renamed: a backup that was
 * interrupted (Ctrl-C, Redis gone) leaves no file behind.
 */
import {createHash} from 'node:crypto'
import {mkdir, open, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {Readable, type Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGzip} from 'node:zlib'

import {SECRET_FILE_MODE, syncDirectory} from '../env/atomic-file.js'
import {encryptingStream} from './crypto.js'
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_LABEL,
  BACKUP_VERSION,
  type BackupCounts,
  type BackupHeader,
  type BackupRecord,
  type RedisType,
  countRecord,
  emptyCounts,
  isRedisType,
  recordToLine,
  timeReplyMs,
} from './format.js'
import {cancelledError, usageError} from '../errors.js'
import {KEY_NAMESPACE} from '../store/records.js'
import {type RedisClient, type RedisCommand, isCluster, runCommands, runScript, scanKeyBuffers} from '../redis/client.js'
import {READ_FOR_BACKUP} from '../redis/scripts.js'

export interface BackupOptions {
  /** Path of the backup file to create; refused when it exists. */
  file: string
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
  skipped_keys: string[]
}

const DEFAULT_BATCH_SIZE = 1000
/** Members read per SSCAN/HSCAN/LRANGE call, so one huge set does not block Redis. */
const MEMBERS_PER_CALL = 1000
const SKIPPED_KEYS_REPORTED = 20

export async function writeBackup(redis: RedisClient, options: BackupOptions): Promise<BackupResult> {
  const {file} = options
  if (await exists(file)) throw usageError(`${file} already exists: a backup is never overwritten.`, 'Choose another --output, or move the old file away.')
  await mkdir(dirname(file), {recursive: true, mode: 0o700})
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
    skipped_keys: [],
  }
  const stages: Transform[] = []
  if (options.gzip) stages.push(createGzip())
  if (options.passphrase) stages.push(await encryptingStream(options.passphrase, {gzip: options.gzip}))

  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`)
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
    await rename(temp, file)
  } catch (error) {
    await rm(temp, {force: true})
    if (options.signal?.aborted) throw cancelledError('Interrupted: the unfinished backup file was removed.')
    throw error
  }
  await syncDirectory(dirname(file))
  return result
}

/** The header line, one line per key, and the trailer with counts and the checksum. */
async function* backupLines(redis: RedisClient, header: BackupHeader, result: BackupResult, options: BackupOptions): AsyncGenerator<string> {
  const hash = createHash('sha256')
  const hashed = (line: string): string => {
    hash.update(line)
    return line
  }
  yield hashed(`${JSON.stringify(header)}\n`)
  let keysSeen = 0
  // The next batch is read from Redis while the current one is encoded and written: two batches in memory at most.
  let previous: Promise<BackupRecord[]> | undefined
  const encode = (records: BackupRecord[]): string => {
    for (const record of records) countRecord(result, record)
    return hashed(records.map((record) => `${recordToLine(record)}\n`).join(''))
  }
  for await (const keys of scanKeyBuffers(redis, `${KEY_NAMESPACE}*`, options.batchSize ?? DEFAULT_BATCH_SIZE)) {
    const reading = readRecords(redis, keys, result)
    reading.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
    if (previous) {
      const records = await previous
      if (records.length > 0) yield encode(records)
    }
    previous = reading
    keysSeen += keys.length
    options.onProgress?.(keysSeen)
  }
  const last = previous ? await previous : []
  if (last.length > 0) yield encode(last)
  const {records, kinds, types} = result
  yield `${JSON.stringify({end: BACKUP_FORMAT, records, kinds, types, sha256: hash.digest('hex')})}\n`
}

/**
 * TYPE, PTTL and values of one SCAN batch. A key gone or retyped between two
 * round trips changed under us and is left out, as if scanned a moment later.
 */
async function readRecords(redis: RedisClient, keys: Buffer[], result: BackupResult): Promise<BackupRecord[]> {
  // TIME before PTTL (its own round trip, so also on a cluster): TIME + PTTL is never later than the real expiry.
  const nowMs = timeReplyMs(await redis.time())
  const reads = isCluster(redis) ? await readTypesAndTtls(redis, keys) : await readByScript(redis, keys)
  const wanted = reads.filter(({key, type, pttl}) => {
    if (type === 'none' || pttl === -2) return false
    if (isRedisType(type)) return true
    result.skipped_unsupported++
    if (result.skipped_keys.length < SKIPPED_KEYS_REPORTED) result.skipped_keys.push(`${key.toString('utf8')} (${type})`)
    return false
  })
  // Issued together: on a cluster they are auto-pipelined per node; on a single server only large collections are left.
  const values = await Promise.all(wanted.map(({key, type, value}) => value ?? readWhole(redis, key, type as RedisType)))
  const records: BackupRecord[] = []
  wanted.forEach(({key, type, pttl}, index) => {
    const value = values[index]
    if (value !== undefined) records.push({key, type: type as RedisType, value, expiresAtMs: pttl >= 0 ? nowMs + pttl : null})
  })
  return records
}

interface KeyRead {
  key: Buffer
  type: string
  pttl: number
  /** The whole value when it came with the type; otherwise read by readWhole. */
  value?: Buffer | Buffer[]
}

/** One script call: type, TTL and value of every key, read together; only large collections are left out. */
async function readByScript(redis: RedisClient, keys: Buffer[]): Promise<KeyRead[]> {
  const replies = (await runScript(redis, READ_FOR_BACKUP, keys, [MEMBERS_PER_CALL], {buffers: true})) as Array<Buffer | number | Buffer[] | null>
  return keys.map((key, index) => ({
    key,
    type: String(replies[index * 3]),
    pttl: replies[index * 3 + 1] as number,
    value: (replies[index * 3 + 2] ?? undefined) as Buffer | Buffer[] | undefined,
  }))
}

/** On a cluster, where a script sees one slot: TYPE and PTTL, auto-pipelined per node. */
async function readTypesAndTtls(redis: RedisClient, keys: Buffer[]): Promise<KeyRead[]> {
  const meta = await runCommands(
    redis,
    keys.flatMap((key): RedisCommand[] => [
      ['type', key],
      ['pttl', key],
    ]),
  )
  return keys.map((key, index) => ({key, type: meta[index * 2] as string, pttl: meta[index * 2 + 1] as number}))
}

/** A value read on its own, a page at a time for collections; undefined when the key is gone or changed type. */
async function readWhole(redis: RedisClient, key: Buffer, type: RedisType): Promise<Buffer | Buffer[] | undefined> {
  const [firstPage] = await runCommands(redis, [readFirstPage(key, type)], {ignoreWrongType: true})
  return completeValue(redis, key, type, firstPage)
}

function readFirstPage(key: Buffer, type: RedisType): RedisCommand {
  if (type === 'string') return ['getBuffer', key]
  if (type === 'set') return ['sscanBuffer', key, '0', 'COUNT', MEMBERS_PER_CALL]
  if (type === 'hash') return ['hscanBuffer', key, '0', 'COUNT', MEMBERS_PER_CALL]
  return ['lrangeBuffer', key, 0, MEMBERS_PER_CALL - 1]
}

/** The whole value from the first read; large sets, hashes and lists take more calls. Undefined when the key changed. */
async function completeValue(redis: RedisClient, key: Buffer, type: RedisType, reply: unknown): Promise<Buffer | Buffer[] | undefined> {
  if (type === 'string') return Buffer.isBuffer(reply) ? reply : undefined
  if (!Array.isArray(reply)) return undefined
  if (type === 'list') {
    const members = [...(reply as Buffer[])]
    for (let chunk = members; chunk.length === MEMBERS_PER_CALL; members.push(...chunk)) {
      chunk = await redis.lrangeBuffer(key, members.length, members.length + MEMBERS_PER_CALL - 1)
    }
    return members.length > 0 ? members : undefined
  }
  let [cursor, elements] = [(reply as [Buffer, Buffer[]])[0].toString(), (reply as [Buffer, Buffer[]])[1]]
  if (cursor === '0') return elements.length > 0 ? elements : undefined
  // A SCAN over several calls may return an element twice: keep one per member (or field).
  const step = type === 'hash' ? 2 : 1
  const seen = new Map<string, Buffer[]>()
  for (;;) {
    for (let index = 0; index < elements.length; index += step) seen.set(elements[index].toString('latin1'), elements.slice(index, index + step))
    if (cursor === '0') break
    const next =
      type === 'hash' ? await redis.hscanBuffer(key, cursor, 'COUNT', MEMBERS_PER_CALL) : await redis.sscanBuffer(key, cursor, 'COUNT', MEMBERS_PER_CALL)
    ;[cursor, elements] = [next[0].toString(), next[1]]
  }
  return seen.size > 0 ? [...seen.values()].flat() : undefined
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
