/**
 * The backups in a directory: what each one holds and whether it is complete,
 * read from the files alone (Redis may be down), and the latest one for
 * `oauth-restore --latest`.
 */
import {readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {PASSPHRASE_ENV} from './crypto.js'
import {BackupFileError, type KindName} from './format.js'
import {openBackup, sniffBackup} from './reader.js'
import {McpAuthError, usageError} from '../errors.js'

export interface BackupListing {
  file: string
  path: string
  size_bytes: number
  /** From the backup's header; for a file that cannot be read, from its default name (UTC) or its modification time. */
  created_at: string
  /** `mcpauth-backup/1` or `gateway-json`; null when it cannot be read. */
  format: string | null
  gzip: boolean | null
  encrypted: boolean | null
  /** complete: verified end to end; damaged: unusable; locked: encrypted and the passphrase is missing or wrong. */
  status: 'complete' | 'damaged' | 'locked'
  /** Why it is damaged or locked, to follow the file name: `is truncated: …`. */
  problem: string | null
  records: number | null
  kinds: Record<KindName, number> | null
}

const BACKUP_NAME = /^oauth-backup-/
const NAME_TIME = /^oauth-backup-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/

/** Backups of the directory, newest first. A missing directory has none. */
export async function listBackups(dir: string, passphrase: string | undefined): Promise<BackupListing[]> {
  const listings: BackupListing[] = []
  for (const {name, path, size, time} of await backupFiles(dir)) {
    const listing: BackupListing = {
      file: name,
      path,
      size_bytes: size,
      created_at: new Date(time).toISOString(),
      format: null,
      gzip: null,
      encrypted: null,
      status: 'damaged',
      problem: null,
      records: null,
      kinds: null,
    }
    Object.assign(listing, await sniffBackup(path).catch(() => ({})))
    try {
      const backup = await openBackup(path, {passphrase})
      const {info} = backup
      Object.assign(listing, {status: 'complete', format: info.format, records: info.counts.records, kinds: info.counts.kinds})
      listing.created_at = info.created_at ?? listing.created_at
    } catch (error) {
      if (!(error instanceof McpAuthError)) throw error
      const locked = error.code === 'backup_passphrase'
      listing.status = locked ? 'locked' : 'damaged'
      if (locked)
        listing.problem = passphrase ? `is encrypted with another passphrase than ${PASSPHRASE_ENV}` : `is encrypted: set ${PASSPHRASE_ENV} to verify it`
      else listing.problem = error instanceof BackupFileError ? error.problem : error.message
    }
    listings.push(listing)
  }
  return listings
}

/** The newest backup of the directory, by the time in its name (else its modification time). */
export async function latestBackup(dir: string): Promise<string> {
  const [newest] = await backupFiles(dir)
  if (!newest) throw usageError(`No backups in ${dir}.`, 'Name the file to restore, or pass --dir where the backups are.')
  return newest.path
}

async function backupFiles(dir: string): Promise<Array<{name: string; path: string; size: number; time: number}>> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw usageError(`Cannot read the backup directory ${dir}: ${(error as Error).message}`)
  }
  const files = []
  for (const name of names.filter((entry) => BACKUP_NAME.test(entry))) {
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isFile()) files.push({name, path, size: info.size, time: nameTime(name)?.getTime() ?? info.mtimeMs})
  }
  return files.sort((a, b) => b.time - a.time || nameSequence(b.name) - nameSequence(a.name) || b.name.localeCompare(a.name))
}

/** 2 for `oauth-backup-20261123-091500-2.jsonl`, the second backup of that second; 1 without a number. */
function nameSequence(name: string): number {
  const match = /^oauth-backup-\d{8}-\d{6}-(\d+)\./.exec(name)
  return match ? Number(match[1]) : 1
}

function nameTime(name: string): Date | undefined {
  const match = NAME_TIME.exec(name)
  if (!match) return undefined
  const [, year, month, day, hour, minute, second] = match.map(Number)
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second))
}
