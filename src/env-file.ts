import {readFile} from 'node:fs/promises'

import {McpAuthError, ExitCode} from './errors.js'

/**
 * One line of a `.env` file. Entries keep their raw text so that a later
 * update can rewrite one key and leave every other line exactly as it was.
 */
export type EnvLine =
  | {kind: 'entry'; key: string; value: string; raw: string; exported: boolean}
  | {kind: 'other'; raw: string}

export interface EnvFile {
  path: string
  exists: boolean
  lines: EnvLine[]
  /** Last value of each key (a later duplicate wins, as dotenv-style loaders do). */
  values: Map<string, string>
  /** Lines that look like assignments but could not be parsed, for warnings. */
  malformedLines: number[]
}

const ENTRY_PATTERN = /^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/

/** Reads a `.env` file; a missing file is an empty one, an unreadable one is an error. */
export async function readEnvFile(path: string): Promise<EnvFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return {path, exists: false, lines: [], values: new Map(), malformedLines: []}
    throw new McpAuthError(`Cannot read ${path}: ${code ?? String(error)}`, {
      code: 'env_unreadable',
      exitCode: ExitCode.unreachable,
      hint: code === 'EACCES' ? 'Check the file owner and mode (it should be 0600 and owned by you).' : undefined,
    })
  }
  return {path, exists: true, ...parseEnvText(text)}
}

export function parseEnvText(text: string): Omit<EnvFile, 'path' | 'exists'> {
  const withoutBom = text.startsWith('\uFEFF') ? text.slice(1) : text
  const rawLines = withoutBom.split(/\r?\n/)
  if (rawLines.length > 0 && rawLines.at(-1) === '') rawLines.pop()
  const lines: EnvLine[] = []
  const values = new Map<string, string>()
  const malformedLines: number[] = []
  rawLines.forEach((raw, index) => {
    const parsed = parseEnvLine(raw)
    if (parsed === 'malformed') {
      malformedLines.push(index + 1)
      lines.push({kind: 'other', raw})
      return
    }
    lines.push(parsed)
    if (parsed.kind === 'entry') values.set(parsed.key, parsed.value)
  })
  return {lines, values, malformedLines}
}

function parseEnvLine(raw: string): EnvLine | 'malformed' {
  const trimmed = raw.trim()
  if (trimmed === '' || trimmed.startsWith('#')) return {kind: 'other', raw}
  const match = ENTRY_PATTERN.exec(raw)
  if (!match) return 'malformed'
  const value = parseEnvValue(match[3])
  if (value === undefined) return 'malformed'
  return {kind: 'entry', key: match[2], value, raw, exported: Boolean(match[1])}
}

/** Unquotes a value; returns undefined for an unterminated quote. */
function parseEnvValue(text: string): string | undefined {
  const quote = text[0]
  if (quote === '"' || quote === "'") {
    const end = findClosingQuote(text, quote)
    if (end === -1) return undefined
    const inner = text.slice(1, end)
    return quote === '"' ? unescapeDoubleQuoted(inner) : inner
  }
  const commentAt = text.search(/\s#/)
  return (commentAt === -1 ? text : text.slice(0, commentAt)).trim()
}

function findClosingQuote(text: string, quote: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') {
      i++
      continue
    }
    if (text[i] === quote) return i
  }
  return -1
}

function unescapeDoubleQuoted(inner: string): string {
  return inner.replace(/\\([nrt"\\$])/g, (_, ch: string) => ({n: '\n', r: '\r', t: '\t'})[ch] ?? ch)
}
