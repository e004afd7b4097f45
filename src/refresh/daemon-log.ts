import {closeSync, openSync, writeSync} from 'node:fs'

import {usageError} from '../errors.js'
import {MESSAGE_LIMIT, safeForTerminal} from '../output.js'

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface LogOptions {
  level: LogLevel
  /** Appended to (created 0600); stderr when absent. */
  file?: string
  /** One JSON object per line instead of text. */
  json: boolean
}

/**
 * The daemon's log: one line per event, at or above the chosen level, to
 * stderr or to a file opened for appending (so logrotate's copytruncate works,
 * and reopen() after a move does too). Callers pass names and times, never
 * token values.
 */
export class DaemonLog {
  /** The open log file; undefined when logging to stderr. */
  private fd: number | undefined
  private readonly threshold: number

  constructor(private readonly options: LogOptions) {
    this.threshold = LOG_LEVELS.indexOf(options.level)
    this.fd = this.open()
  }

  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.write('debug', message, fields)
  }

  info(message: string, fields: Record<string, unknown> = {}): void {
    this.write('info', message, fields)
  }

  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.write('warn', message, fields)
  }

  error(message: string, fields: Record<string, unknown> = {}): void {
    this.write('error', message, fields)
  }

  /** Opens the log file again: after logrotate moved it away (SIGHUP). */
  reopen(): void {
    if (this.fd === undefined) return
    const previous = this.fd
    this.fd = this.open()
    closeSync(previous)
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  private open(): number | undefined {
    return this.options.file ? openSync(this.options.file, 'a', 0o600) : undefined
  }

  private write(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    if (LOG_LEVELS.indexOf(level) < this.threshold) return
    const time = new Date().toISOString()
    // A message quotes names and reasons from OAuth servers and files: in text, escaped and capped like
    // every untrusted text a person reads (`tail -f` on a terminal); JSON escaping is exact already.
    const line = this.options.json
      ? JSON.stringify({time, level, message, ...fields})
      : `${time} ${level.toUpperCase().padEnd(5)} ${safeForTerminal(message, {limit: MESSAGE_LIMIT})}`
    // Synchronous to the file, so the last lines before a crash or a SIGKILL are on disk.
    if (this.fd === undefined) process.stderr.write(`${line}\n`)
    else writeSync(this.fd, `${line}\n`)
  }
}

/** A DaemonLog, with a log file that cannot be opened reported as a usage error. */
export function openDaemonLog(options: LogOptions): DaemonLog {
  try {
    return new DaemonLog(options)
  } catch (error) {
    throw usageError(`Cannot open the log file ${options.file}: ${(error as Error).message}.`, 'Pass a --log-file in a directory this user can write.')
  }
}
