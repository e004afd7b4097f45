import {createRequire} from 'node:module'

import type TableConstructor from 'cli-table3'

/** `eyJhbG…x9Qw`: enough to recognise a secret, not enough to use it. */
export function redact(secret: string | null | undefined): string | null {
  if (secret === null || secret === undefined) return null
  if (secret.length < 16) return '…'
  return `${secret.slice(0, 6)}…${secret.slice(-4)}`
}

/** `2026-11-23 09:00 UTC`, or `-` when unknown. */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return '-'
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** ISO 8601 for `--json`; null when unknown. */
export function isoTime(epochSeconds: number | null | undefined): string | null {
  if (epochSeconds === null || epochSeconds === undefined) return null
  return new Date(epochSeconds * 1000).toISOString()
}

/** `3d 4h`, `45m`, `12s`; `-` for no value. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-'
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

export function renderTable(head: string[], rows: string[][]): string {
  // Required on first use so that commands printing no table start faster.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof TableConstructor
  const table = new Table({head, style: {head: useColor() ? ['cyan'] : [], border: []}})
  table.push(...rows)
  return table.toString()
}

/** Writes a JSON array to a stream element by element, so a long list is never held whole. */
export class JsonArrayWriter {
  private count = 0

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  async write(items: readonly unknown[]): Promise<void> {
    if (items.length === 0) return
    const text = items.map((item) => (this.count++ === 0 ? '[\n  ' : ',\n  ') + JSON.stringify(item)).join('')
    if (!this.stream.write(text)) await new Promise((resolve) => this.stream.once('drain', resolve))
  }

  async end(): Promise<void> {
    const text = this.count === 0 ? '[]\n' : '\n]\n'
    await new Promise<void>((resolve) => this.stream.write(text, () => resolve()))
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
    let line = `${this.label}: ${keysSeen.toLocaleString('en-US')}`
    if (this.totalKeys) {
      const left = rate > 0 ? Math.max(0, this.totalKeys - keysSeen) / rate : undefined
      line += ` of ~${this.totalKeys.toLocaleString('en-US')} keys (${Math.min(100, Math.floor((keysSeen / this.totalKeys) * 100))}%)`
      if (left !== undefined) line += `, ~${formatDuration(left)} left`
    } else {
      line += ' keys'
    }
    process.stderr.write(`\r${line}, ${Math.round(rate).toLocaleString('en-US')}/s\u001B[K`)
  }

  done(): void {
    if (this.enabled && this.lastDrawn > 0) process.stderr.write('\r\u001B[K')
  }
}

/** Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR
}
