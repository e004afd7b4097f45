/**
 * Restores one large value without a long command: the value is built page
 * by page under a staging name outside `oauth:` (with a TTL, so an
 * interrupted restore leaves nothing that lasts), then COMMIT_STAGED renames
 * it into place atomically. Readers see the old key or the whole new one,
 * never a value half written. On a cluster the staging name carries the
 * key's hash slot, which RENAME needs.
 */
import {randomBytes} from 'node:crypto'

import type {BackupRecord, Bytes} from './format.js'
import {type RedisClient, type RedisCommand, isCluster, runCommands, runScript} from '../redis/client.js'
import {COMMIT_STAGED, type RESTORE_OUTCOME} from '../redis/scripts.js'

/** Value bytes per write while staging. */
export const STAGE_PAGE_BYTES = 256 * 1024
/** A staging key left by an interrupted restore disappears after this. */
const STAGING_TTL_SECONDS = 3600
const ADDERS = {set: 'sadd', list: 'rpush', hash: 'hset'} as const

export type Outcome = (typeof RESTORE_OUTCOME)[keyof typeof RESTORE_OUTCOME]

/** The staging name for a key, or undefined when none can share its cluster slot (a key with `}` and no hash tag). */
export function stagingKey(redis: RedisClient, key: Bytes): Buffer | undefined {
  const suffix = `mcpauth:restoring:${randomBytes(8).toString('hex')}`
  if (!isCluster(redis)) return Buffer.from(suffix)
  const bytes = Buffer.from(key)
  const open = bytes.indexOf('{')
  const close = open === -1 ? -1 : bytes.indexOf('}', open + 1)
  const tag = close > open + 1 ? bytes.subarray(open + 1, close) : bytes
  if (tag.includes('}')) return undefined
  return Buffer.concat([Buffer.from('{'), tag, Buffer.from(`}${suffix}`)])
}

export async function writeStaged(redis: RedisClient, record: BackupRecord, staging: Buffer, mode: 'merge' | 'overwrite'): Promise<Outcome> {
  await runCommands(redis, [['unlink', staging]])
  for (const page of pages(record)) {
    const write: RedisCommand =
      record.type === 'string' ? ['append', staging, page as Buffer] : [ADDERS[record.type as keyof typeof ADDERS], staging, ...(page as Bytes[])]
    await runCommands(redis, [write, ['expire', staging, STAGING_TTL_SECONDS]])
  }
  const expiry = record.expiresAtMs === null ? '' : String(record.expiresAtMs)
  return (await runScript(redis, COMMIT_STAGED, [record.key, staging], [mode, expiry])) as Outcome
}

/** The value in pages of about STAGE_PAGE_BYTES; a hash page holds whole field/value pairs. */
function* pages(record: BackupRecord): Generator<Buffer | Bytes[]> {
  if (record.type === 'string') {
    const bytes = Buffer.from(record.value as Bytes)
    for (let start = 0; start < bytes.length; start += STAGE_PAGE_BYTES) yield bytes.subarray(start, start + STAGE_PAGE_BYTES)
    return
  }
  const items = record.value as Bytes[]
  const step = record.type === 'hash' ? 2 : 1
  let page: Bytes[] = []
  let bytes = 0
  for (let index = 0; index < items.length; index += step) {
    for (let offset = 0; offset < step; offset++) {
      page.push(items[index + offset])
      bytes += items[index + offset].length
    }
    if (bytes >= STAGE_PAGE_BYTES || page.length >= 1000) {
      yield page
      page = []
      bytes = 0
    }
  }
  if (page.length > 0) yield page
}
