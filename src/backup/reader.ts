/**
 * Opens a backup file of either format, encrypted and/or gzip-compressed or
 * not (container.ts), and verifies all of it before
 * anything may be restored: the mcpauth format in one streaming pass
 * (structure, every record, counts, checksum, GCM tag), the gateway's older
 * JSON format by parsing and checking every entry.
 */
import {createHash} from 'node:crypto'
import type {Readable} from 'node:stream'

import {type Container, openContainer, peek, readAll, streamProblem} from './container.js'
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_LABEL,
  BACKUP_VERSION,
  type BackupCounts,
  type BackupHeader,
  type BackupRecord,
  type BackupTrailer,
  BackupFileError,
  type Bytes,
  LEGACY_FORMAT,
  MAX_LINE_BYTES,
  NOT_A_BACKUP,
  RecordProblem,
  bytesToText,
  countRecord,
  emptyCounts,
  recordFromLine,
  sameCounts,
  shown,
} from './format.js'
import {KeyFingerprints} from './key-set.js'
import {type LegacyBackup, parseLegacyBackup} from './legacy.js'
import {ExitCode, McpAuthError, cancelledError} from '../errors.js'

export interface BackupInfo {
  file: string
  /** `mcpauth-backup/1` or `gateway-json`. */
  format: string
  gzip: boolean
  encrypted: boolean
  /** ISO 8601, from the header (or the gateway file's timestamp); null when unknown. */
  created_at: string | null
  source: string | null
  counts: BackupCounts
}

/** Where restored expiries come from: the file's absolute times, or a gateway file's TTLs. */
export type ExpiryBasis = 'absolute' | 'from_backup_timestamp' | 'as_recorded'

export interface VerifiedBackup {
  info: BackupInfo
  expiry: ExpiryBasis
  /** Entries the file holds outside `oauth:` (a gateway file's sessions): not restored. */
  ignored: number
  /**
   * The records again, in file order, a run at a time (what one read of the
   * file held); `nowMs` (Redis's clock) anchors TTLs that are relative to nothing.
   */
  records(nowMs: number): AsyncIterable<BackupRecord[]>
}

export interface OpenOptions {
  passphrase?: string
  signal?: AbortSignal
  onProgress?: (recordsRead: number) => void
}

const NEWLINE = Buffer.from('\n')
const LEGACY_RUN = 1000
/** The gateway's JSON format can only be parsed whole; past this size it would cost more memory than a restore may take. */
export const MAX_LEGACY_BYTES = 64 * 1024 * 1024

/** Opens and verifies a backup; throws BackupFileError (exit 2) or a passphrase error (exit 4). */
export async function openBackup(file: string, options: OpenOptions = {}): Promise<VerifiedBackup> {
  const container = await openContainer(file, options.passphrase)
  const start = await peek(container, file)
  if (/^\{"format"/.test(start)) return verifyV1(file, container, options)
  if (/^\s*\{/.test(start)) return verifyLegacy(file, container)
  throw new BackupFileError(file, NOT_A_BACKUP)
}

async function verifyV1(file: string, container: Container, options: OpenOptions): Promise<VerifiedBackup> {
  const pass = new V1Pass(file, {findDuplicates: true})
  const checkInterrupt = (): void => {
    if (options.signal?.aborted) throw cancelledError('Interrupted while verifying: nothing was written to Redis.')
  }
  for await (const _run of pass.records(await container.open())) {
    checkInterrupt()
    options.onProgress?.(pass.counts.records)
  }
  if (pass.lookAlikes.size > 0) await confirmDuplicates(file, container, pass.lookAlikes, checkInterrupt)
  const header = pass.header as BackupHeader
  return {
    info: {
      file,
      format: BACKUP_FORMAT_LABEL,
      gzip: container.gzip,
      encrypted: container.encrypted,
      created_at: header.created_at,
      source: header.source,
      counts: pass.counts,
    },
    expiry: 'absolute',
    ignored: 0,
    async *records() {
      try {
        yield* new V1Pass(file).records(await container.open())
      } catch (error) {
        if (!(error instanceof BackupFileError)) throw error
        throw new McpAuthError(`Backup ${file} changed while it was being restored: ${error.problem}.`, {
          code: 'backup_changed',
          exitCode: ExitCode.usage,
          hint: 'The keys restored so far are complete. Restore again from a backup nobody is writing to.',
        })
      }
    },
  }
}

/**
 * Keys whose fingerprint matched an earlier key's: a key listed twice makes
 * the file damaged (a restore could not say what it would do), a mere
 * look-alike does not. One more pass compares the keys themselves.
 */
async function confirmDuplicates(file: string, container: Container, lookAlikes: Set<string>, checkInterrupt: () => void): Promise<void> {
  const seen = new Set<string>()
  for await (const run of new V1Pass(file).records(await container.open())) {
    checkInterrupt()
    for (const {key} of run) {
      const exact = exactKey(key)
      if (!lookAlikes.has(exact)) continue
      if (seen.has(exact)) throw new BackupFileError(file, `is damaged: it lists the key ${shown(bytesToText(key))} twice`)
      seen.add(exact)
    }
  }
}

/** A key as a string that is equal only for the same bytes, whether it came as text or as base64. */
function exactKey(key: Bytes): string {
  return (typeof key === 'string' ? Buffer.from(key) : key).toString('latin1')
}

async function verifyLegacy(file: string, container: Container): Promise<VerifiedBackup> {
  const text = (await readAll(await container.open(), file, MAX_LEGACY_BYTES)).toString('utf8')
  let legacy: LegacyBackup
  try {
    legacy = parseLegacyBackup(JSON.parse(text))
  } catch (error) {
    if (error instanceof SyntaxError) throw new BackupFileError(file, 'is damaged: it starts like JSON but is not valid JSON (truncated or edited?)')
    if (error instanceof RecordProblem)
      throw new BackupFileError(file, error.message === NOT_A_BACKUP ? NOT_A_BACKUP : `is not a valid gateway backup: ${error.message}`)
    throw error
  }
  const {createdAtMs, counts, ignored} = legacy
  return {
    info: {
      file,
      format: LEGACY_FORMAT,
      gzip: container.gzip,
      encrypted: container.encrypted,
      created_at: createdAtMs === null ? null : new Date(createdAtMs).toISOString(),
      source: null,
      counts,
    },
    expiry: createdAtMs === null ? 'as_recorded' : 'from_backup_timestamp',
    ignored,
    async *records(nowMs: number) {
      let run: BackupRecord[] = []
      for (const record of legacy.records(nowMs)) {
        run.push(record)
        if (run.length === LEGACY_RUN) {
          yield run
          run = []
        }
      }
      if (run.length > 0) yield run
    },
  }
}

/**
 * One pass over the lines of an mcpauth backup: checks each and yields the
 * records of each chunk read. Lines are decoded where they lie in the chunk,
 * and the checksum is fed whole runs of lines, not one line at a time.
 */
class V1Pass {
  header?: BackupHeader
  readonly counts = emptyCounts()
  /** With findDuplicates: keys whose fingerprint an earlier key had (exactKey form), for confirmDuplicates. */
  readonly lookAlikes = new Set<string>()
  private readonly hash = createHash('sha256')
  private readonly fingerprints?: KeyFingerprints
  private trailer?: BackupTrailer
  private lineNumber = 0

  constructor(
    private readonly file: string,
    options: {findDuplicates?: boolean} = {},
  ) {
    if (options.findDuplicates) this.fingerprints = new KeyFingerprints()
  }

  async *records(stream: Readable): AsyncGenerator<BackupRecord[]> {
    // The start of a line that began in an earlier chunk, and its length.
    let carried: Buffer[] = []
    let carriedBytes = 0
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const run: BackupRecord[] = []
        let lineStart = 0
        // Bytes of this chunk from here to lineStart are yet to be hashed.
        let hashFrom = 0
        for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, lineStart)) {
          if (carriedBytes + end - lineStart > MAX_LINE_BYTES) throw this.lineTooLong()
          const line = carried.length > 0 ? Buffer.concat([...carried, chunk.subarray(0, end)]) : chunk.subarray(lineStart, end)
          const accepted = this.accept(line.toString('utf8'))
          if (accepted === TRAILER) {
            this.hash.update(chunk.subarray(hashFrom, lineStart))
            hashFrom = end + 1
          } else {
            for (const part of carried) this.hash.update(part)
            if (accepted) run.push(accepted)
          }
          carried = []
          carriedBytes = 0
          lineStart = end + 1
        }
        if (!this.trailer) this.hash.update(chunk.subarray(hashFrom, lineStart))
        if (lineStart < chunk.length) {
          carriedBytes += chunk.length - lineStart
          if (carriedBytes > MAX_LINE_BYTES) throw this.lineTooLong()
          carried.push(chunk.subarray(lineStart))
        }
        if (run.length > 0) yield run
      }
    } catch (error) {
      throw streamProblem(error, this.file)
    }
    if (carried.length > 0) {
      // A last line without its "\n": a file cut short.
      const line = Buffer.concat(carried)
      const accepted = this.accept(line.toString('utf8'))
      if (accepted !== TRAILER) this.hash.update(line).update(NEWLINE)
      if (accepted && accepted !== TRAILER) yield [accepted]
    }
    if (!this.trailer) throw this.problem(`is truncated: it ends after ${this.counts.records} records, before its trailer`)
    if (this.trailer.sha256 !== this.hash.digest('hex')) throw this.problem('is damaged or was edited: its checksum does not match its content')
    if (!sameCounts(this.trailer, this.counts)) throw this.problem('is damaged or was edited: its counts do not match its records')
  }

  /** The record on a line, TRAILER for the trailer, undefined for the header. */
  private accept(text: string): BackupRecord | typeof TRAILER | undefined {
    this.lineNumber++
    if (this.trailer) throw this.problem(`has data after its trailer (line ${this.lineNumber})`)
    let object: {[field: string]: unknown}
    try {
      object = JSON.parse(text)
      if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new RecordProblem('not an object')
    } catch {
      throw this.problem(`is damaged: line ${this.lineNumber} is not a JSON object`)
    }
    if (this.lineNumber === 1) {
      this.header = checkHeader(object, this.file)
      return undefined
    }
    if ('end' in object) {
      this.trailer = object as unknown as BackupTrailer
      return TRAILER
    }
    try {
      const record = recordFromLine(object)
      countRecord(this.counts, record)
      if (this.fingerprints && !this.fingerprints.add(record.key)) this.lookAlikes.add(exactKey(record.key))
      return record
    } catch (error) {
      if (error instanceof RecordProblem) throw this.problem(`is damaged: line ${this.lineNumber}: ${error.message}`)
      throw error
    }
  }

  private problem(text: string): BackupFileError {
    return new BackupFileError(this.file, text)
  }

  private lineTooLong(): BackupFileError {
    return this.problem(`is damaged: line ${this.lineNumber + 1} is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB, more than any backup line`)
  }
}

const TRAILER = Symbol('trailer')

function checkHeader(object: {[field: string]: unknown}, file: string): BackupHeader {
  if (object.format !== BACKUP_FORMAT) throw new BackupFileError(file, NOT_A_BACKUP)
  if (object.version !== BACKUP_VERSION)
    throw new BackupFileError(file, `has format version ${JSON.stringify(object.version)}; this mcpauth reads version ${BACKUP_VERSION}`)
  if (typeof object.created_at !== 'string' || typeof object.source !== 'string')
    throw new BackupFileError(file, 'is damaged: its header lacks created_at or source')
  return object as unknown as BackupHeader
}

export {sniffBackup} from './container.js'
