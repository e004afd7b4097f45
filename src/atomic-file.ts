import {randomBytes} from 'node:crypto'
import {open, rename, rm, realpath} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

export const SECRET_FILE_MODE = 0o600

/**
 * Replaces a file so that a reader (or a crash) sees either the old content
 * or the new, never a mix: temp file in the same directory, fsync, rename,
 * fsync of the directory. A symlink is followed and its target replaced.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: {mode?: number} = {}): Promise<void> {
  const target = await resolveTarget(path)
  const directory = dirname(target)
  const temporary = join(directory, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temporary, 'wx', options.mode ?? SECRET_FILE_MODE)
    try {
      await handle.writeFile(data)
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
