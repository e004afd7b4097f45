/** Small horizontal bar charts in text, for terminals (`oauth-stats`). */

import {displayWidth, fitWidth, formatCount, safeForTerminal, terminalColumns} from './output.js'

export interface Bar {
  label: string
  value: number
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']
const DAY_SECONDS = 86_400

/** Bars are at most this long, and shorter when the terminal is narrow. */
const LONGEST_BAR = 40

/**
 * One row per bar: label, a bar scaled to the largest value (in eighths of a
 * cell), and the value. Labels are untrusted text (usernames, client names):
 * escaped, and shortened with `…` so each row fits `columns`.
 */
export function renderBars(bars: readonly Bar[], options: {width?: number; color?: boolean; columns?: number} = {}): string {
  const largest = Math.max(1, ...bars.map((bar) => bar.value))
  const values = bars.map((bar) => formatCount(bar.value))
  const valueWidth = Math.max(0, ...values.map((value) => value.length))
  const columns = options.columns ?? terminalColumns()
  const labels = bars.map((bar) => safeForTerminal(bar.label))
  let labelWidth = Math.max(0, ...labels.map(displayWidth))
  let width = options.width ?? LONGEST_BAR
  if (columns !== undefined) {
    // Room for "label  bar value": the label gives way first, down to a third of the line, then the bar.
    labelWidth = Math.min(labelWidth, Math.max(8, Math.floor(columns / 3)))
    width = Math.max(1, Math.min(width, columns - labelWidth - valueWidth - 4))
  }
  return bars
    .map(({value}, index) => {
      const eighths = Math.round((value / largest) * width * 8)
      const bar = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]
      const drawn = options.color && bar ? `\u001B[36m${bar}\u001B[0m` : bar
      const label = fitWidth(labels[index], labelWidth)
      return `${label}${' '.repeat(labelWidth - displayWidth(label))}  ${drawn}${bar ? ' ' : ''}${values[index]}`
    })
    .join('\n')
}

/**
 * Tokens expiring per day for `days` days from `now` (UTC days), every day
 * present even when nothing expires on it.
 */
export function expiryTimeline(expiryByDay: ReadonlyArray<{date: string; tokens: number}>, now: number, days = 7): Bar[] {
  const counts = new Map(expiryByDay.map(({date, tokens}) => [date, tokens]))
  return Array.from({length: days}, (_, offset) => {
    const day = new Date((now + offset * DAY_SECONDS) * 1000)
    const date = day.toISOString().slice(0, 10)
    const name = offset === 0 ? 'today' : offset === 1 ? 'tomorrow' : day.toLocaleDateString('en-US', {weekday: 'short', timeZone: 'UTC'})
    return {label: `${date} ${name}`, value: counts.get(date) ?? 0}
  })
}
