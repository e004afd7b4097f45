import {McpAuthError, ExitCode} from '../errors.js'

const LOCK_WAIT_MS = 30_000

/**
 * Runs `work` while holding an advisory lock beside `path` (`path.lock`), so
 * concurrent mcpauth processes take turns on the same file. The lock is kept
 * fresh while held and taken over when its holder died (stale after 5 s).
 */
export async function withFileLock<T>(path: string, work: () => Promise<T>, options: {waitMs?: number} = {}): Promise<T> {
  const waitMs = options.waitMs ?? LOCK_WAIT_MS
  let release: () => Promise<void>
  try {
    const {default: lockfile} = await import('proper-lockfile')
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: `${path}.lock`,
      stale: 5000,
      retries: {retries: Math.ceil(waitMs / 100), factor: 1, minTimeout: 50, maxTimeout: 150, randomize: true},
      // Advisory only: if a stalled holder's lock was taken over, its write is still atomic.
      onCompromised: () => {},
    })
  } catch (error) {
    throw new McpAuthError(`Another mcpauth process holds ${path}.lock and did not let go within ${waitMs / 1000}s.`, {
      code: 'locked',
      exitCode: ExitCode.unreachable,
      hint: 'If no other mcpauth runs, remove the .lock directory beside the file.',
      cause: error,
    })
  }
  try {
    return await work()
  } finally {
    await release().catch(() => {})
  }
}
