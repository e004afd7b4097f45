/**
 * Runs long work with Ctrl-C (SIGINT) and SIGTERM turned into an abort signal,
 * so the work stops at a safe point and cleans up after itself instead of
 * dying mid-write. A second Ctrl-C ends the process the usual way.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const abort = (): void => controller.abort()
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)
  try {
    return await work(controller.signal)
  } finally {
    process.off('SIGINT', abort)
    process.off('SIGTERM', abort)
  }
}
