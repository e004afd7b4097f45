/**
 * The container around a backup's lines: a plain, gzip-compressed and/or
 * encrypted file (told by its bytes, never by its name), opened anew for each
 * pass after checking that it is still the file first seen.
 */
import {type Stats, createReadStream} from 'node:fs'
import {type FileHandle, open, stat} from 'node:fs/promises'
import {type Readable, pipeline} from 'node:stream'
import {createGunzip} from 'node:zlib'

import {type EncryptionEnvelope, decryptingStream, readEnvelope, unlockEnvelope} from './crypto.js'
import {BackupFileError} from './format.js'
import {McpAuthError} from '../errors.js'

/** The readable container: how to get at the plaintext lines. */
export interface Container {
  gzip: boolean
  encrypted: boolean
  open(): Promise<Readable>
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b])
const PEEK_BYTES = 64

/** Whether a file is encrypted and compressed, told without a passphrase. */
export async function sniffBackup(file: string): Promise<{encrypted: boolean; gzip: boolean}> {
  const {envelope, gzip} = await sniff(file)
  return {encrypted: envelope !== undefined, gzip}
}

interface Sniffed {
  envelope?: EncryptionEnvelope
  gzip: boolean
  size: number
  /** Inode, size and modification time: each pass checks the file is still the one verified. */
  identity: string
}

async function sniff(file: string): Promise<Sniffed> {
  let handle: FileHandle
  try {
    handle = await open(file, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new BackupFileError(file, code === 'ENOENT' ? 'does not exist' : `cannot be opened (${code ?? (error as Error).message})`)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new BackupFileError(file, 'is not a file')
    const identity = fileIdentity(info)
    const envelope = await readEnvelope(handle, file)
    if (envelope) return {envelope, gzip: envelope.params.compression === 'gzip', size: info.size, identity}
    const magic = Buffer.alloc(GZIP_MAGIC.length)
    await handle.read(magic, 0, magic.length, 0)
    return {gzip: magic.equals(GZIP_MAGIC), size: info.size, identity}
  } finally {
    await handle.close()
  }
}

/** Each pass opens the file anew (a stream stopped early closes its descriptor), after checking it is unchanged. */
export async function openContainer(file: string, passphrase: string | undefined): Promise<Container> {
  const {envelope, gzip, size, identity} = await sniff(file)
  const key = envelope ? await unlockEnvelope(envelope, passphrase, file) : undefined
  return {
    gzip,
    encrypted: envelope !== undefined,
    async open() {
      if (fileIdentity(await stat(file)) !== identity) throw new BackupFileError(file, 'changed while it was being read')
      return gunzipIf(gzip, envelope && key ? await decryptingStream(file, size, envelope, key) : createReadStream(file))
    },
  }
}

function fileIdentity(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`
}

/** pipeline() also destroys the file stream when a reader stops early, so no stream outlives its pass. */
function gunzipIf(gzip: boolean, stream: Readable): Readable {
  return gzip ? pipeline(stream, createGunzip(), () => {}) : stream
}

/** The first bytes of the plaintext, which tell the formats apart. */
export async function peek(container: Container, file: string): Promise<string> {
  const stream = await container.open()
  const chunks: Buffer[] = []
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      if (Buffer.concat(chunks).length >= PEEK_BYTES) break
    }
  } catch (error) {
    throw streamProblem(error, file)
  } finally {
    stream.destroy()
  }
  return Buffer.concat(chunks).subarray(0, PEEK_BYTES).toString('utf8')
}

export async function readAll(stream: Readable, file: string, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > limit) {
        stream.destroy()
        throw new BackupFileError(
          file,
          `is a gateway JSON backup of more than ${limit / 1024 / 1024} MiB: that format can only be read whole, and a file this large is refused to keep memory bounded`,
        )
      }
      chunks.push(chunk)
    }
  } catch (error) {
    throw streamProblem(error, file)
  }
  return Buffer.concat(chunks)
}

/** What a failing gunzip or decipher means for the operator. */
export function streamProblem(error: unknown, file: string): unknown {
  if (error instanceof McpAuthError) return error
  const {code, message} = error as NodeJS.ErrnoException
  if (code?.startsWith('Z_')) return new BackupFileError(file, 'is damaged: its gzip data is truncated or corrupt')
  if (/unable to authenticate data/.test(message))
    return new BackupFileError(file, 'is damaged or was edited: it fails its authentication check (encryption tag)')
  return error
}
