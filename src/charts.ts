/** Small horizontal bar charts in text, for terminals (`oauth-stats`). */

export interface Bar {
  label: string
  value: number
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']
const DAY_SECONDS = 86_400

/** One row per bar: label, a bar scaled to the largest value (in eighths of a cell), and the value. */
export function renderBars(bars: readonly Bar[], options: {width?: number; color?: boolean} = {}): string {
  const width = options.width ?? 40
  const largest = Math.max(1, ...bars.map((bar) => bar.value))
  const labelWidth = Math.max(0, ...bars.map((bar) => bar.label.length))
  return bars
    .map(({label, value}) => {
      const eighths = Math.round((value / largest) * width * 8)
      const bar = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]
      const drawn = options.color && bar ? `\u001B[36m${bar}\u001B[0m` : bar
      return `${label.padEnd(labelWidth)}  ${drawn}${bar ? ' ' : ''}${value.toLocaleString('en-US')}`
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
