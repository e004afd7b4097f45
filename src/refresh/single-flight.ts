import {McpAuthError} from '../errors.js'
import {withFileLock} from '../env/file-lock.js'

/**
 * Runs `work` holding a login's own lock. When another process holds it (it
 * is refreshing the same login), `onWait` is told once, then this one waits
 * its turn: the lock is what makes a refresh single-flight, so a single-use
 * refresh token is spent by one process only.
 */
export async function withLoginLock<T>(lockPath: string, onWait: () => void, work: () => Promise<T>): Promise<T> {
  let started = false
  try {
    return await withFileLock(
      lockPath,
      () => {
        started = true
        return work()
      },
      {waitMs: 0},
    )
  } catch (error) {
    if (started || !(error instanceof McpAuthError) || error.code !== 'locked') throw error
  }
  onWait()
  return withFileLock(lockPath, work)
}
