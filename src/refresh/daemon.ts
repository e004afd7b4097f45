import {loadSettings, type Settings} from '../env/settings.js'
import type {DaemonLog} from './daemon-log.js'
import {McpAuthError} from '../errors.js'
import {rewriteRecordedConfigs} from '../mcp/config.js'
import {syncRegistryConfigs} from '../mcp/registry-files.js'
import type {OAuthHttpOptions} from '../oauth/http.js'
import {formatDuration, isoTime} from '../output.js'
import type {HeldPidFile} from './pid-file.js'
import {findLogins} from '../logins/all-logins.js'
import {NO_REFRESHABLE_TOKEN, type RefreshOutcome, refreshLogins} from './refresh.js'

/** The registry's client configs, rewritten after every check. */
export interface RegistryOutput {
  registryDir: string
  gatewayUrl: string
  outputDir: string
}

export interface DaemonOptions {
  envFilePath: string
  tokensDirs: readonly string[]
  registry?: RegistryOutput
  intervalSeconds: number
  bufferSeconds: number
  http: OAuthHttpOptions
  log: DaemonLog
  /** Aborted by SIGTERM/SIGINT: the step under way finishes, then the loop ends. */
  stop: AbortSignal
}

export interface DaemonSummary {
  checks: number
  refreshed: number
  failed: number
  stopped_by: string
}

/** The first retry after a failure waits this long (or the interval, if shorter), doubling each time up to the interval. */
const FIRST_RETRY_SECONDS = 10

/**
 * Refreshes due tokens every interval until stopped. A failure never ends the
 * loop: a server that could not be reached is tried again sooner, backing off
 * towards the interval; a refresh token the server refused needs a new login,
 * which is logged at every check until someone signs in again.
 */
export async function runRefreshDaemon(options: DaemonOptions): Promise<DaemonSummary> {
  const summary: DaemonSummary = {checks: 0, refreshed: 0, failed: 0, stopped_by: ''}
  const saidOnce = new Set<string>()
  let failuresInARow = 0
  while (!options.stop.aborted) {
    const check = await checkOnce(options, saidOnce)
    summary.checks++
    summary.refreshed += check.refreshed
    summary.failed += check.failed
    failuresInARow = check.retrySoon ? failuresInARow + 1 : 0
    const delay = failuresInARow === 0 ? options.intervalSeconds : retryDelay(failuresInARow, options.intervalSeconds)
    if (options.stop.aborted) break
    options.log.debug(`next check in ${formatDuration(delay)}`)
    await sleep(delay * 1000, options.stop)
  }
  summary.stopped_by = String(options.stop.reason ?? 'stop')
  return summary
}

export function retryDelay(failuresInARow: number, intervalSeconds: number): number {
  const first = Math.min(FIRST_RETRY_SECONDS, intervalSeconds)
  return Math.min(intervalSeconds, first * 2 ** (failuresInARow - 1))
}

interface CheckResult {
  refreshed: number
  failed: number
  /** A failure that waiting a little may cure (a server down, a network error). */
  retrySoon: boolean
}

async function checkOnce(options: DaemonOptions, saidOnce: Set<string>): Promise<CheckResult> {
  const {log} = options
  let settings: Settings
  let outcomes: RefreshOutcome[]
  try {
    settings = await loadSettings(options.envFilePath)
    const logins = await findLogins(settings, options.tokensDirs)
    outcomes = await refreshLogins(logins, {
      bufferSeconds: options.bufferSeconds,
      force: false,
      http: options.http,
      onWait: (login) => log.info(`another mcpauth is refreshing ${login.name}; waiting for it`),
    })
  } catch (error) {
    log.error(`check failed: ${describe(error)}`)
    return {refreshed: 0, failed: 1, retrySoon: true}
  }
  logCheck(log, outcomes, saidOnce)
  const refreshed = outcomes.filter((outcome) => outcome.status === 'refreshed').length
  const failures = outcomes.filter((outcome) => outcome.status === 'failed')
  // Every check, not only after a refresh made here: mcp-headers or a manual run may have refreshed the token.
  await rewriteClientConfigs(log, settings)
  if (options.registry) await writeRegistryFiles(log, settings, options, saidOnce)
  return {refreshed, failed: failures.length, retrySoon: failures.some((failure) => failure.login_command === null)}
}

function logCheck(log: DaemonLog, outcomes: RefreshOutcome[], saidOnce: Set<string>): void {
  const due = outcomes.filter((outcome) => !['still_valid', 'unknown_expiry', 'incomplete'].includes(outcome.status))
  if (outcomes.length === 0) {
    log.warn(`check: ${NO_REFRESHABLE_TOKEN}`)
    return
  }
  log.info(`check: ${outcomes.length} refreshable, ${due.length} due`, {refreshable: outcomes.length, due: due.length})
  for (const outcome of outcomes) logOutcome(log, outcome, saidOnce)
}

function logOutcome(log: DaemonLog, outcome: RefreshOutcome, saidOnce: Set<string>): void {
  const fields = {token: outcome.name, status: outcome.status, expires_at: isoTime(outcome.expires_at)}
  const until = outcome.expires_at === null ? 'expiry unknown' : `valid until ${isoTime(outcome.expires_at)}`
  switch (outcome.status) {
    case 'refreshed':
      log.info(`refreshed ${outcome.name}: ${until}${outcome.refresh_token_rotated ? ', refresh token rotated' : ''}`, fields)
      break
    case 'refreshed_elsewhere':
      log.info(`${outcome.name} was refreshed by another mcpauth: ${until}`, fields)
      break
    case 'still_valid':
      log.debug(`${outcome.name} still valid: ${until}`, fields)
      break
    case 'unknown_expiry':
      log.warn(`${outcome.name}: ${outcome.reason}`, fields)
      break
    case 'incomplete': {
      // What to add is said once; until the file changes it would only repeat.
      const message = `${outcome.name}: ${outcome.reason}${outcome.login_command ? `; run ${outcome.login_command}` : ''}`
      if (saidOnce.has(message)) log.debug(message, fields)
      else log.warn(message, fields)
      saidOnce.add(message)
      break
    }
    case 'failed':
      if (outcome.login_command) log.error(`${outcome.name} needs a new login: ${outcome.reason}; run ${outcome.login_command}`, fields)
      else log.warn(`refreshing ${outcome.name} failed, will retry: ${outcome.reason}`, fields)
      break
  }
}

/** Puts the current token into the client configuration files mcp-config wrote with a literal token. */
async function rewriteClientConfigs(log: DaemonLog, settings: Settings): Promise<void> {
  for (const result of await rewriteRecordedConfigs(settings)) {
    const fields = {client: result.client, path: result.path, status: result.status}
    if (result.status === 'rewritten') log.info(`rewrote the ${result.client} configuration ${result.path} with the new token`, fields)
    else if (result.status === 'failed') log.warn(`could not rewrite ${result.path}: ${result.reason}`, fields)
    else log.debug(`${result.path} is up to date${result.reason ? ` (${result.reason})` : ''}`, fields)
  }
}

async function writeRegistryFiles(log: DaemonLog, settings: Settings, options: DaemonOptions, saidOnce: Set<string>): Promise<void> {
  try {
    const written = await syncRegistryConfigs({...options.registry!, tokensDirs: options.tokensDirs, settings})
    for (const warning of written.warnings) {
      if (saidOnce.has(warning)) continue
      saidOnce.add(warning)
      log.warn(`registry: ${warning}`)
    }
    log.debug(`wrote ${written.paths.join(' and ')}: ${written.servers.join(', ')}`, {servers: written.servers.length})
  } catch (error) {
    log.warn(`could not write the registry's client configs: ${describe(error)}`)
  }
}

function describe(error: unknown): string {
  if (error instanceof McpAuthError) return error.message.replace(/\.$/, '')
  return error instanceof Error ? `unexpected error: ${error.message}` : String(error)
}

/**
 * SIGTERM and SIGINT stop the daemon after the step under way, which may be
 * saving a rotated refresh token; a second one exits at once (130), for a step
 * stuck on a lock or a slow server. SIGHUP reopens the log file (logrotate),
 * and is only taken when there is one: in a terminal it still ends the daemon.
 */
export function handleDaemonSignals(log: DaemonLog, pidFile: HeldPidFile, logFile: string | undefined): {stop: AbortSignal; dispose(): void} {
  const stopper = new AbortController()
  const onStop = (signal: NodeJS.Signals): void => {
    if (!stopper.signal.aborted) {
      log.info(`${signal} received: stopping after the current step (send it again to stop at once)`)
      stopper.abort(signal)
      return
    }
    log.warn(`${signal} received again: stopping now; a refresh under way is abandoned`)
    pidFile.releaseNow()
    process.exit(130)
  }
  const onHangup = (): void => {
    try {
      log.reopen()
    } catch (error) {
      log.warn(`could not reopen ${logFile} (${(error as Error).message}); still writing to the file open before`)
    }
  }
  process.on('SIGTERM', onStop).on('SIGINT', onStop)
  if (logFile) process.on('SIGHUP', onHangup)
  return {
    stop: stopper.signal,
    dispose: () => process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onHangup),
  }
}

/** Waits, returning early when `stop` is aborted. */
function sleep(milliseconds: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, milliseconds)
    stop.addEventListener('abort', done, {once: true})
    function done(): void {
      clearTimeout(timer)
      stop.removeEventListener('abort', done)
      resolve()
    }
  })
}
