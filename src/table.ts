import {displayWidth, fitWidth, safeForTerminal, terminalColumns, useColor, writeStdout} from './output.js'

/**
 * Boxed text tables for people, in time linear in their rows, fitted to the
 * terminal's width. A cell is untrusted text (one line) or its lines; every
 * line is escaped (safeForTerminal) and capped, so a hostile value can
 * neither steer the terminal nor blow up the table.
 */
export type Cell = string | number | null | undefined | readonly string[]

export interface TableOptions {
  /** Columns the table may take; default the terminal's width (none for a pipe). */
  width?: number
  color?: boolean
}

/** A whole table as one string, for short tables. */
export function renderTable(head: readonly string[], rows: ReadonlyArray<readonly Cell[]>, options: TableOptions = {}): string {
  const lines = rows.map(toLines)
  const layout = new TableLayout(head, lines, options)
  return [layout.top(), ...layout.rows(lines, true), layout.bottom()].join('\n')
}

/** Rows whose widths decide the columns of a streamed table: about a screenful. */
const SAMPLE_ROWS = 50

/**
 * A table written to stdout as its rows arrive, for lists of any length:
 * column widths are fixed from the first screenful, later cells are
 * shortened to them with `…`, and nothing but the current batch is held.
 */
export class TableWriter {
  private layout?: TableLayout
  private pending: string[][][] = []
  private first = true

  constructor(
    private readonly head: readonly string[],
    private readonly options: TableOptions = {},
  ) {}

  async write(rows: ReadonlyArray<readonly Cell[]>): Promise<void> {
    const lines = rows.map(toLines)
    if (this.layout) return this.emit(lines)
    for (const row of lines) this.pending.push(row)
    if (this.pending.length >= SAMPLE_ROWS) await this.start()
  }

  async end(): Promise<void> {
    if (!this.layout) await this.start()
    await writeStdout(`${this.layout!.bottom()}\n`)
  }

  private async start(): Promise<void> {
    this.layout = new TableLayout(this.head, this.pending, this.options)
    const sample = this.pending
    this.pending = []
    await writeStdout(`${this.layout.top()}\n`)
    await this.emit(sample)
  }

  private async emit(rows: string[][][]): Promise<void> {
    if (rows.length === 0) return
    await writeStdout(`${this.layout!.rows(rows, this.first).join('\n')}\n`)
    this.first = false
  }
}

/**
 * Writes every item of a streamed list as a table row, in the order they
 * come, holding one batch at a time: the way to show a whole keyspace
 * (`--limit 0`) in flat memory. Counts the rows and the malformed ones.
 */
export async function streamRows<T extends {problem: string | null}>(
  batches: AsyncIterable<T[]>,
  table: TableWriter,
  toRow: (item: T) => Cell[],
): Promise<{total: number; malformed: number}> {
  let total = 0
  let malformed = 0
  for await (const batch of batches) {
    total += batch.length
    for (const item of batch) if (item.problem) malformed++
    await table.write(batch.map(toRow))
  }
  if (total > 0) await table.end()
  return {total, malformed}
}

const BORDER_CELL_PADDING = 3
const NARROWEST_COLUMN = 6

class TableLayout {
  readonly widths: number[]
  private readonly color: boolean
  private readonly separator: string

  constructor(
    private readonly head: readonly string[],
    sample: ReadonlyArray<string[][]>,
    options: TableOptions,
  ) {
    this.color = options.color ?? useColor()
    const natural = head.map((title, column) => Math.max(displayWidth(title), ...sample.map((row) => widest(row[column] ?? []))))
    this.widths = shrinkToFit(natural, options.width ?? terminalColumns())
    this.separator = this.border('├', '┼', '┤')
  }

  top(): string {
    const titles = this.head.map((title, column) => fitWidth(title, this.widths[column]))
    const shown = titles.map((title) => (this.color ? `\u001B[36m${title}\u001B[39m` : title))
    return [this.border('┌', '┬', '┐'), this.line(shown, titles.map(displayWidth)), this.border('├', '┼', '┤')].join('\n')
  }

  /** The rows' lines; a separator before every row except the first one of the table. */
  rows(rows: ReadonlyArray<string[][]>, first: boolean): string[] {
    const out: string[] = []
    rows.forEach((row, index) => {
      if (!(first && index === 0)) out.push(this.separator)
      const height = Math.max(1, ...row.map((cell) => cell.length))
      for (let lineIndex = 0; lineIndex < height; lineIndex++) {
        out.push(`│${this.widths.map((width, column) => ` ${pad(row[column]?.[lineIndex] ?? '', width)} `).join('│')}│`)
      }
    })
    return out
  }

  bottom(): string {
    return this.border('└', '┴', '┘')
  }

  private line(texts: string[], widths: number[]): string {
    return `│${texts.map((text, column) => ` ${text}${' '.repeat(Math.max(0, this.widths[column] - widths[column]))} `).join('│')}│`
  }

  private border(left: string, middle: string, right: string): string {
    return `${left}${this.widths.map((width) => '─'.repeat(width + 2)).join(middle)}${right}`
  }
}

/** Text shortened or padded to exactly `width` columns. */
function pad(text: string, width: number): string {
  const used = displayWidth(text)
  if (used <= width) return text + ' '.repeat(width - used)
  const fitted = fitWidth(text, width)
  return fitted + ' '.repeat(Math.max(0, width - displayWidth(fitted)))
}

function toLines(row: readonly Cell[]): string[][] {
  return row.map((cell) => (Array.isArray(cell) ? cell : [cell === null || cell === undefined ? '' : String(cell)]).map((line) => safeForTerminal(line)))
}

function widest(lines: readonly string[]): number {
  let width = 0
  for (const line of lines) width = Math.max(width, displayWidth(line))
  return width
}

/** Narrows the widest columns first until the table fits `available` columns (borders included). */
function shrinkToFit(natural: number[], available: number | undefined): number[] {
  const widths = [...natural]
  if (available === undefined) return widths
  const room = available - (BORDER_CELL_PADDING * widths.length + 1)
  let total = widths.reduce((sum, width) => sum + width, 0)
  while (total > room) {
    const widestColumn = widths.indexOf(Math.max(...widths))
    if (widths[widestColumn] <= NARROWEST_COLUMN) break
    widths[widestColumn]--
    total--
  }
  return widths
}
