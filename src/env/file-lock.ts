import {lstat} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

import {ExitCode, McpAuthError, fileSystemError} from '../errors.js'
import {inRealDirectory, realFilePath} from './safe-paths.js'

const LOCK_WAIT_MS = 30_000
const STALE_MS = 5000

/**
 * Runs `work` while holding an advisory lock beside `path`'s real file
 * (`<real path>.lock`, a directory), so concurrent mcpauth processes take
 * turns on the same file however they spell it: `.env`, a link to it, or
 * its real path. The lock is kept fresh while held and taken over when its
 * holder died (stale after 5 s). Only a lock held by another process is
 * waited for: a lock that cannot be made (read-only file system, full disk,
 * no permission, a missing directory) ends the command at once, in one line.
 * `followLink: false` is for files mcpauth creates itself (PID files): the
 * lock sits beside the name as given, never beside a link's target.
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options: {waitMs?: number; followLink?: boolean} = {}): Promise<T> {
  const waitMs = options.waitMs ?? LOCK_WAIT_MS
  const file = options.followLink === false ? inRealDirectory(path) : realFilePath(path)
  const lockPath = `${file}.lock`
  const {default: lockfile} = await import('proper-lockfile')
  const deadline = Date.now() + waitMs
  let release: () => Promise<void>
  for (;;) {
    try {
      release = await lockfile.lock(file, {
        realpath: false,
        lockfilePath: lockPath,
        stale: STALE_MS,
        retries: 0,
        // Advisory only: if a stalled holder's lock was taken over, its write is still atomic.
        onCompromised: () => {},
      })
      break
    } catch (error) {
      await assertLockDirectory(lockPath)
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw fileSystemError(error, lockPath, 'create the lock')
      if (Date.now() >= deadline) throw heldElsewhere(lockPath, waitMs, error)
      await sleep(50 + Math.random() * 100)
    }
  }
  try {
    return await work()
  } finally {
    await release().catch(() => {})
  }
}

/** A lock is a directory mcpauth made; a link or a file at its name is no lock to wait for. */
async function assertLockDirectory(lockPath: string): Promise<void> {
  let isDirectory = true
  try {
    isDirectory = (await lstat(lockPath)).isDirectory()
  } catch {
    // Gone since: the next try takes it.
  }
  if (!isDirectory) {
    throw new McpAuthError(`${lockPath} is not a lock directory (a file or a symbolic link is in its place).`, {
      code: 'lock_not_directory',
      exitCode: ExitCode.unreachable,
      hint: 'mcpauth never writes through it. Remove it if you did not put it there on purpose.',
    })
  }
}

function heldElsewhere(lockPath: string, waitMs: number, cause: unknown): McpAuthError {
  return new McpAuthError(`Another mcpauth process holds ${lockPath} and did not let go within ${waitMs / 1000}s.`, {
    code: 'locked',
    exitCode: ExitCode.unreachable,
    hint: 'If no other mcpauth runs, remove the .lock directory beside the file.',
    cause,
  })
}
