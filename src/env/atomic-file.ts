import {randomBytes} from 'node:crypto'
import {link, lstat, open, rename, rm} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'

import {fileSystemError} from '../errors.js'
import {inRealDirectory, trustedWriteTarget} from './safe-paths.js'

export const SECRET_FILE_MODE = 0o600

/**
 * Replaces a file so that a reader (or a crash) sees either the old content
 * or the new, never a mix: temp file in the same directory, fsync, rename,
 * fsync of the directory. The temporary file is created exclusively
 * (O_EXCL), so a link planted at its name is never written through.
 * A symbolic link at `path` is followed and its target replaced only when it
 * is trusted (see trustedWriteTarget); with `followLink: false` (files
 * mcpauth owns: PID files) a link there is replaced by the file itself.
 * Run as root (a daemon rewriting a user's client config), the new file keeps
 * the old one's owner, so the user can still read it. A full disk, a
 * read-only file system or a refused permission is one line, exit 4.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: {mode?: number; followLink?: boolean} = {}): Promise<void> {
  const target = options.followLink === false ? inRealDirectory(path) : trustedWriteTarget(path)
  const directory = dirname(target)
  const temporary = join(directory, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const owner = await ownerToKeep(target)
  try {
    const handle = await open(temporary, 'wx', options.mode ?? SECRET_FILE_MODE)
    try {
      await handle.writeFile(data)
      if (owner) await handle.chown(owner.uid, owner.gid)
      await handle.chmod(options.mode ?? SECRET_FILE_MODE)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, target)
  } catch (error) {
    await rm(temporary, {force: true})
    throw fileSystemError(error, target === resolve(path) ? path : `${path} (${target})`, 'write')
  }
  await syncDirectory(directory)
}

/** The existing file's owner, when this process is root and would otherwise take it over. */
async function ownerToKeep(path: string): Promise<{uid: number; gid: number} | undefined> {
  if (process.getuid?.() !== 0) return undefined
  try {
    // lstat: a link in the file's place is not the file, and its target's owner is nobody to copy.
    const existing = await lstat(path)
    if (!existing.isFile()) return undefined
    const {uid, gid} = existing
    return uid === 0 && gid === 0 ? undefined : {uid, gid}
  } catch {
    return undefined
  }
}

/** Makes a rename durable (fsync of the directory), where the platform allows it. */
export async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

/**
 * Gives a finished temporary file its final name only if that name is free:
 * link(2) fails with EEXIST where rename(2) would silently replace, so of two
 * writers racing for one name exactly one wins. Returns false when the name
 * was taken (the temporary file is then still there for the caller to remove).
 * On a file system without hard links, an exclusive create claims the name first.
 */
export async function publishWithoutReplacing(temporary: string, path: string): Promise<boolean> {
  try {
    await link(temporary, path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error
    try {
      await (await open(path, 'wx', SECRET_FILE_MODE)).close()
    } catch (claim) {
      if ((claim as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw claim
    }
    await rename(temporary, path)
    return true
  }
  await rm(temporary, {force: true})
  return true
}
