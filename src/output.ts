/** `eyJhbG…x9Qw`: enough to recognise a secret, not enough to use it. */
export function redact(secret: string | null | undefined): string | null {
  if (secret === null || secret === undefined) return null
  if (secret.length < 16) return '…'
  return `${secret.slice(0, 6)}…${secret.slice(-4)}`
}

/** `2026-11-23 09:00 UTC`, `-` when unknown, `out of range` for what no date can show (1e300, NaN). */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return '-'
  const iso = isoTime(epochSeconds)
  return iso === null ? 'out of range' : `${iso.slice(0, 16).replace('T', ' ')} UTC`
}

/** ISO 8601 for `--json`; null when unknown or beyond what a date can hold (never a RangeError). */
export function isoTime(epochSeconds: number | null | undefined): string | null {
  if (epochSeconds === null || epochSeconds === undefined) return null
  const date = new Date(epochSeconds * 1000)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** `3d 4h`, `45m`, `12s`; `-` for no value. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-'
  const total = Math.round(Math.abs(seconds))
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ]
  const parts: string[] = []
  let rest = total
  for (const [unit, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    } else if (parts.length > 0) break
  }
  return parts.length > 0 ? parts.join(' ') : '0s'
}

/** `in 3h 10m` or `2d 1h ago` relative to now. */
export function formatRelative(epochSeconds: number | null | undefined, now = Date.now() / 1000): string {
  if (epochSeconds === null || epochSeconds === undefined) return '-'
  const delta = epochSeconds - now
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`
}

/** `1,234,567`: every number a person reads has thousands separators. */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US')
}

/** What one table cell or one name in a message may print of untrusted text, in characters. */
export const CELL_LIMIT = 200
/** What one message (a note, an error) may print, in characters. */
export const MESSAGE_LIMIT = 4000

/**
 * Characters that steer a terminal or reorder what it shows: C0 and C1
 * controls (ESC, CR, BEL, ...), DEL, bidi embeddings, overrides and isolates,
 * and the Unicode line separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const TERMINAL_CONTROLS = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g
const NAMED_ESCAPES: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/**
 * Text from outside mcpauth (Redis, a JWT, an OAuth server, a browser
 * callback) made safe to show a person: every control character is shown as
 * an escape (`\x1B`, `\u202E`) instead of acting on the terminal, and at most
 * `limit` characters are kept (then `…`), so a 20 MB value costs no more
 * than a short one. `keepNewlines` is for whole messages of several lines.
 * `--json` never goes through here: JSON escaping is exact already.
 */
export function safeForTerminal(text: unknown, options: {limit?: number; keepNewlines?: boolean} = {}): string {
  const value = typeof text === 'string' ? text : String(text ?? '')
  const limit = options.limit ?? CELL_LIMIT
  let kept = value.length > limit ? value.slice(0, limit) : value
  if (kept.length < value.length && /[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1)
  const escaped = kept.replace(TERMINAL_CONTROLS, (char) => (options.keepNewlines && char === '\n' ? char : escapeControl(char)))
  return kept.length < value.length ? `${escaped}…` : escaped
}

function escapeControl(char: string): string {
  const named = NAMED_ESCAPES[char]
  if (named) return named
  const code = char.charCodeAt(0)
  return code < 0x100 ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}` : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`
}

const PRINTABLE_ASCII = /^[\x20-\x7E]*$/

/** Columns a string takes on a terminal: wide (CJK, emoji) characters take two, combining marks none. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length
  let width = 0
  for (const char of text) width += charWidth(char.codePointAt(0)!)
  return width
}

/** Shortens text to at most `width` terminal columns, ending in `…` when something was cut. */
export function fitWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  let kept = ''
  let used = 0
  for (const char of text) {
    const next = charWidth(char.codePointAt(0)!)
    if (used + next > width - 1) break
    kept += char
    used += next
  }
  return `${kept}…`
}

function charWidth(code: number): number {
  if ((code >= 0x300 && code <= 0x36f) || (code >= 0x200b && code <= 0x200d) || (code >= 0xfe00 && code <= 0xfe0f)) return 0
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1faff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  return wide ? 2 : 1
}

/** The width output must fit: the terminal's, or COLUMNS when set (scripts, tests); undefined for a pipe. */
export function terminalColumns(): number | undefined {
  const fromEnv = Number(process.env.COLUMNS)
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv
  return process.stdout.isTTY ? process.stdout.columns : undefined
}

/** Thrown by a write to stdout once its reader has gone (`| head`): the command stops quietly. */
export class StdoutClosedError extends Error {
  constructor() {
    super('stdout was closed by its reader')
    this.name = 'StdoutClosedError'
  }
}

let stdoutClosed = false
const stdoutClosedListeners = new Set<() => void>()

/**
 * Watches stdout for its reader going away (EPIPE): instead of an unhandled
 * error or a write that waits forever for 'drain', writes reject with
 * StdoutClosedError and `onClosed` runs (to stop the work under way).
 */
export function watchStdout(onClosed: () => void): void {
  stdoutClosedListeners.add(onClosed)
  ensureStdoutWatched()
}

let watching = false
function ensureStdoutWatched(): void {
  if (watching) return
  watching = true
  // EPIPE mostly; any failed write to stdout means nobody reads what follows.
  process.stdout.on('error', () => {
    if (stdoutClosed) return
    stdoutClosed = true
    for (const listener of [...stdoutClosedListeners]) listener()
  })
}

export function isStdoutClosed(): boolean {
  return stdoutClosed
}

/** Writes to stdout, waiting while the reader is slower (backpressure); rejects once the reader has gone. */
export async function writeStdout(text: string): Promise<void> {
  ensureStdoutWatched()
  if (stdoutClosed) throw new StdoutClosedError()
  const stdout = process.stdout
  await new Promise<void>((resolve, reject) => {
    const onClosed = (): void => {
      stdoutClosedListeners.delete(onClosed)
      reject(new StdoutClosedError())
    }
    stdoutClosedListeners.add(onClosed)
    const settle = (): void => {
      stdoutClosedListeners.delete(onClosed)
      if (stdoutClosed) reject(new StdoutClosedError())
      else resolve()
    }
    if (stdout.write(text)) settle()
    else stdout.once('drain', settle)
  })
}

/** Writes a JSON array to stdout element by element, so a long list is never held whole. */
export class JsonArrayWriter {
  private count = 0

  async write(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return
    await writeStdout(items.map((item) => (this.count++ === 0 ? '[\n  ' : ',\n  ') + JSON.stringify(item)).join(''))
  }

  async end(): Promise<void> {
    await writeStdout(this.count === 0 ? '[]\n' : '\n]\n')
  }
}

/**
 * A one-line progress counter on stderr (keys seen, rate, and an estimate of
 * the time left when the keyspace size is known), only when stderr is a
 * terminal, so logs and pipes stay clean.
 */
export class Progress {
  readonly enabled: boolean
  private lastDrawn = 0
  private readonly startedAt = Date.now()
  private totalKeys?: number

  constructor(
    private readonly label: string,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY) && !process.env.CI
  }

  /** The keyspace size (DBSIZE): the scan walks every key, so this is the whole job. */
  setTotal(totalKeys: number): void {
    this.totalKeys = totalKeys > 0 ? totalKeys : undefined
  }

  update(keysSeen: number): void {
    if (!this.enabled || Date.now() - this.lastDrawn < 200) return
    this.lastDrawn = Date.now()
    const seconds = (Date.now() - this.startedAt) / 1000
    const rate = seconds > 0 ? keysSeen / seconds : 0
    let line = `${this.label}: ${formatCount(keysSeen)}`
    if (this.totalKeys) {
      const left = rate > 0 ? Math.max(0, this.totalKeys - keysSeen) / rate : undefined
      line += ` of ~${formatCount(this.totalKeys)} keys (${Math.min(100, Math.floor((keysSeen / this.totalKeys) * 100))}%)`
      if (left !== undefined) line += `, ~${formatDuration(left)} left`
    } else {
      line += ' keys'
    }
    process.stderr.write(`\r${line}, ${formatCount(Math.round(rate))}/s\u001B[K`)
  }

  done(): void {
    if (this.enabled && this.lastDrawn > 0) process.stderr.write('\r\u001B[K')
  }
}

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR
}
