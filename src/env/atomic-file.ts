import {randomBytes} from 'node:crypto'
import {link, open, rename, rm, realpath, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

export const SECRET_FILE_MODE = 0o600

/**
 * Replaces a file so that a reader (or a crash) sees either the old content
 * or the new, never a mix: temp file in the same directory, fsync, rename,
 * fsync of the directory. A symlink is followed and its target replaced.
 * Run as root (a daemon rewriting a user's client config), the new file keeps
 * the old one's owner, so the user can still read it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: {mode?: number} = {}): Promise<void> {
  const target = await resolveTarget(path)
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
    throw error
  }
  await syncDirectory(directory)
}

/** The existing file's owner, when this process is root and would otherwise take it over. */
async function ownerToKeep(path: string): Promise<{uid: number; gid: number} | undefined> {
  if (process.getuid?.() !== 0) return undefined
  try {
    const {uid, gid} = await stat(path)
    return uid === 0 && gid === 0 ? undefined : {uid, gid}
  } catch {
    return undefined
  }
}

async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path)
  } catch {
    return path
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
