/**
 * Encrypted backups: AES-256-GCM with a key derived by scrypt from the
 * passphrase in MCPAUTH_BACKUP_PASSPHRASE (never a flag: argv is visible in ps).
 *
 *   MCPAUTH-ENCRYPTED-BACKUP\n                                     magic line
 *   {"version":1,"cipher":"aes-256-gcm","kdf":"scrypt","N":32768,"r":8,"p":1,
 *    "salt":b64,"iv":b64,"check":b64,"compression":"gzip"|"none"}\n  parameters
 *   ciphertext, then the 16-byte GCM tag
 *
 * Both text lines are authenticated (GCM additional data), so a tampered
 * parameter fails like tampered data. scrypt yields 48 bytes: the first 32 are
 * the key, the last 16 are stored as "check", so a wrong passphrase is told at
 * once instead of after decrypting the whole file; knowing them does not help
 * to find the key. "compression" lets a listing say whether the content is
 * gzip without the passphrase.
 */
import {createCipheriv, createDecipheriv, randomBytes, scrypt, timingSafeEqual} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import {type Readable, Transform, pipeline} from 'node:stream'

import {BackupFileError} from './format.js'
import {ExitCode, McpAuthError, usageError} from '../errors.js'

export const PASSPHRASE_ENV = 'MCPAUTH_BACKUP_PASSPHRASE'

export interface EncryptionParams {
  version: 1
  cipher: 'aes-256-gcm'
  kdf: 'scrypt'
  N: number
  r: number
  p: number
  salt: string
  iv: string
  check: string
  compression: 'gzip' | 'none'
}

/** The authenticated text at the start of an encrypted file, and what it says. */
export interface EncryptionEnvelope {
  prefix: Buffer
  params: EncryptionParams
}

const MAGIC = Buffer.from('MCPAUTH-ENCRYPTED-BACKUP\n')
const TAG_BYTES = 16
const PREFIX_LIMIT = 4096
const SCRYPT_DEFAULTS = {N: 32_768, r: 8, p: 1}

/** The passphrase from the environment only; an empty value counts as unset. */
export function backupPassphrase(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[PASSPHRASE_ENV] || undefined
}

export function requirePassphraseToEncrypt(env: NodeJS.ProcessEnv = process.env): string {
  const passphrase = backupPassphrase(env)
  if (!passphrase)
    throw usageError(`--encrypt needs the passphrase in ${PASSPHRASE_ENV}.`, `Export ${PASSPHRASE_ENV} (it is never taken as a flag), then run again.`)
  return passphrase
}

/** A stream that turns plaintext into a complete encrypted file: prefix, ciphertext, tag. */
export async function encryptingStream(passphrase: string, options: {gzip: boolean}): Promise<Transform> {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const {key, check} = await deriveKey(passphrase, salt, SCRYPT_DEFAULTS)
  const params: EncryptionParams = {
    version: 1,
    cipher: 'aes-256-gcm',
    kdf: 'scrypt',
    ...SCRYPT_DEFAULTS,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    check: check.toString('base64'),
    compression: options.gzip ? 'gzip' : 'none',
  }
  const prefix = Buffer.concat([MAGIC, Buffer.from(`${JSON.stringify(params)}\n`)])
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(prefix)
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, cipher.update(chunk))
    },
    flush(callback) {
      this.push(cipher.final())
      callback(null, cipher.getAuthTag())
    },
  })
  stream.push(prefix)
  return stream
}

/** The envelope of an encrypted file, or undefined when the file does not start with the magic line. */
export async function readEnvelope(handle: FileHandle, file: string): Promise<EncryptionEnvelope | undefined> {
  const head = Buffer.alloc(PREFIX_LIMIT)
  const {bytesRead} = await handle.read(head, 0, PREFIX_LIMIT, 0)
  if (bytesRead < MAGIC.length || !head.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
  const end = head.indexOf(0x0a, MAGIC.length)
  let params: unknown
  try {
    if (end === -1 || end >= bytesRead) throw new Error('no end of line')
    params = JSON.parse(head.subarray(MAGIC.length, end).toString('utf8'))
  } catch {
    throw new BackupFileError(file, 'is encrypted but its parameter line is damaged')
  }
  return {prefix: Buffer.from(head.subarray(0, end + 1)), params: checkParams(params, file)}
}

/** The key of an encrypted file; a missing or wrong passphrase fails here, before any data is read. */
export async function unlockEnvelope(envelope: EncryptionEnvelope, passphrase: string | undefined, file: string): Promise<Buffer> {
  if (!passphrase) throw passphraseError(`Backup ${file} is encrypted: set ${PASSPHRASE_ENV} to the passphrase it was made with.`)
  const {params} = envelope
  const {key, check} = await deriveKey(passphrase, Buffer.from(params.salt, 'base64'), params)
  const stored = Buffer.from(params.check, 'base64')
  if (stored.length !== check.length || !timingSafeEqual(stored, check)) {
    throw passphraseError(`Wrong passphrase for ${file}: ${PASSPHRASE_ENV} does not open it.`)
  }
  return key
}

/**
 * The plaintext of an encrypted file. Tampering or truncation fails at the
 * end of the stream (GCM tag), so a reader must finish before trusting what it read.
 */
export async function decryptingStream(file: string, size: number, envelope: EncryptionEnvelope, key: Buffer): Promise<Readable> {
  const {params, prefix} = envelope
  if (size <= prefix.length + TAG_BYTES) throw new BackupFileError(file, 'is truncated: the encrypted data is missing')
  const tag = Buffer.alloc(TAG_BYTES)
  const handle = await open(file, 'r')
  await handle.read(tag, 0, TAG_BYTES, size - TAG_BYTES).finally(() => handle.close())
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(params.iv, 'base64')).setAAD(prefix).setAuthTag(tag)
  return pipeline(createReadStream(file, {start: prefix.length, end: size - TAG_BYTES - 1}), decipher, () => {})
}

function passphraseError(message: string): McpAuthError {
  return new McpAuthError(message, {
    code: 'backup_passphrase',
    exitCode: ExitCode.unreachable,
    hint: `${PASSPHRASE_ENV} is read from the environment only. Nothing was written to Redis.`,
  })
}

async function deriveKey(passphrase: string, salt: Buffer, cost: {N: number; r: number; p: number}): Promise<{key: Buffer; check: Buffer}> {
  const derived = await new Promise<Buffer>((resolve, reject) => {
    // scrypt needs 128·N·r bytes; Node's default ceiling (32 MiB) is exactly the default cost.
    scrypt(passphrase, salt, 48, {...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024}, (error, key) => (error ? reject(error) : resolve(key)))
  })
  return {key: derived.subarray(0, 32), check: derived.subarray(32)}
}

/** Bounds the cost a crafted file can make us pay. */
function checkParams(value: unknown, file: string): EncryptionParams {
  const params = value as EncryptionParams
  const valid =
    typeof params === 'object' &&
    params !== null &&
    params.version === 1 &&
    params.cipher === 'aes-256-gcm' &&
    params.kdf === 'scrypt' &&
    Number.isInteger(params.N) &&
    params.N >= 1024 &&
    params.N <= 1_048_576 &&
    (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) &&
    params.r >= 1 &&
    params.r <= 32 &&
    Number.isInteger(params.p) &&
    params.p >= 1 &&
    params.p <= 16 &&
    [params.salt, params.iv, params.check].every((field) => typeof field === 'string') &&
    Buffer.from(params.iv, 'base64').length === 12 &&
    (params.compression === 'gzip' || params.compression === 'none')
  if (!valid) throw new BackupFileError(file, 'is encrypted with parameters this mcpauth does not know')
  return params
}
