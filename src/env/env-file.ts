import {closeSync, fstatSync, openSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'

import {McpAuthError, ExitCode} from '../errors.js'

/**
 * One line of a `.env` file. Entries keep their raw text so that an update
 * rewrites only the keys it changes and leaves every other line as it was.
 */
export type EnvLine = {kind: 'entry'; key: string; value: string; raw: string; exported: boolean; quote: Quote; comment: string} | {kind: 'other'; raw: string}

type Quote = '"' | "'" | ''

export interface EnvFile {
  path: string
  exists: boolean
  lines: EnvLine[]
  /** Last value of each key (a later duplicate wins, as compose and dotenv-style loaders do). */
  values: Map<string, string>
  /** 1-based numbers of lines that look like neither an assignment nor a comment. */
  malformedLines: number[]
  eol: '\n' | '\r\n'
  bom: boolean
  finalNewline: boolean
}

/** New values by key; null removes the key. */
export type EnvUpdates = Record<string, string | null>

export interface EnvUpdateResult {
  path: string
  created: boolean
  /** Keys whose value was added, replaced or removed. */
  changed: string[]
}

const ENTRY_PATTERN = /^(\s*)(export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/

/**
 * What was read from `.env` files that are not regular files (`<(cat .env)`,
 * a FIFO, /dev/stdin): they can be read once only, so a second read in the
 * same command gets the same text instead of nothing.
 */
const readOnce = new Map<string, string>()

/** Reads a `.env` file; a missing file is an empty one, an unreadable one is an error (exit 4). */
export async function readEnvFile(path: string): Promise<EnvFile> {
  const key = resolve(path)
  let text = readOnce.get(key)
  if (text === undefined) {
    try {
      // Synchronous: a .env is a few hundred bytes, and mcp-headers (run on every MCP connection) pays for each trip to the thread pool.
      const descriptor = openSync(path, 'r')
      try {
        const regular = fstatSync(descriptor).isFile()
        text = decodeEnvBytes(readFileSync(descriptor))
        if (!regular) readOnce.set(key, text)
      } finally {
        closeSync(descriptor)
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return {path, exists: false, ...parseEnvText('')}
      throw new McpAuthError(`Cannot read ${path}: ${code ?? String(error)}`, {
        code: 'env_unreadable',
        exitCode: ExitCode.unreachable,
        hint: code === 'EACCES' ? 'Check the file owner and mode (it should be 0600 and owned by you).' : undefined,
      })
    }
  }
  return {path, exists: true, ...parseEnvText(text)}
}

/**
 * Changes some keys of a `.env` file under a lock: `compute` sees the file as
 * it is once the lock is held (so a concurrent writer's change is not lost),
 * and the result is written atomically with mode 0600. A missing file is
 * created, from `seedFrom` (e.g. `.env.example`) when that exists.
 */
export async function updateEnvFile(
  path: string,
  compute: (current: EnvFile) => EnvUpdates | Promise<EnvUpdates>,
  options: {seedFrom?: string} = {},
): Promise<EnvUpdateResult> {
  // Loaded here: reading a .env (mcp-headers' launch path) needs neither.
  const [{withFileLock}, {writeFileAtomic}] = await Promise.all([import('./file-lock.js'), import('./atomic-file.js')])
  return withFileLock(path, async () => {
    let current = await readEnvFile(path)
    if (!current.exists && options.seedFrom) {
      const seed = await readEnvFile(options.seedFrom)
      if (seed.exists) current = {...seed, path, exists: false}
    }
    const updates = await compute(current)
    const changed = Object.keys(updates).filter((key) => (updates[key] ?? undefined) !== current.values.get(key))
    if (changed.length > 0 || (!current.exists && current.lines.length > 0)) {
      const changedUpdates = Object.fromEntries(changed.map((key) => [key, updates[key]]))
      await writeFileAtomic(path, encodeEnvText(renderEnvFile(current, changedUpdates)))
    }
    return {path, created: !current.exists, changed}
  })
}

export function parseEnvText(text: string): Omit<EnvFile, 'path' | 'exists'> {
  const bom = text.startsWith('\uFEFF')
  const body = bom ? text.slice(1) : text
  const eol = body.includes('\r\n') ? '\r\n' : '\n'
  const rawLines = body.split(/\r?\n/)
  const finalNewline = rawLines.length > 1 && rawLines.at(-1) === ''
  if (rawLines.at(-1) === '') rawLines.pop()
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
  return {lines, values, malformedLines, eol, bom, finalNewline}
}

/** The file's text with `updates` applied: changed keys rewritten in place (the last occurrence), new keys appended. */
export function renderEnvFile(file: Pick<EnvFile, 'lines' | 'eol' | 'bom' | 'finalNewline'>, updates: EnvUpdates): string {
  const lastIndex = new Map<string, number>()
  file.lines.forEach((line, index) => {
    if (line.kind === 'entry') lastIndex.set(line.key, index)
  })
  const output: string[] = []
  file.lines.forEach((line, index) => {
    if (line.kind !== 'entry' || !(line.key in updates)) {
      output.push(line.raw)
      return
    }
    const value = updates[line.key]
    if (value === null) return
    if (lastIndex.get(line.key) === index) output.push(formatEntry(line.key, value, line))
    else output.push(line.raw)
  })
  let appended = false
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || lastIndex.has(key)) continue
    output.push(formatEntry(key, value))
    appended = true
  }
  const text = output.join(file.eol)
  const newline = output.length > 0 && (file.finalNewline || appended || file.lines.length === 0) ? file.eol : ''
  return `${file.bom ? '\uFEFF' : ''}${text}${newline}`
}

function formatEntry(key: string, value: string, previous?: Extract<EnvLine, {kind: 'entry'}>): string {
  const prefix = previous?.exported ? 'export ' : ''
  const comment = previous?.comment ? ` ${previous.comment}` : ''
  return `${prefix}${key}=${quoteValue(value, previous?.quote ?? '')}${comment}`
}

/** Keeps the line's quote style where it can; quotes whatever a reader could misparse. */
function quoteValue(value: string, preferred: Quote): string {
  const singleQuotable = !/['\n\r]/.test(value)
  if (preferred === "'" && singleQuotable) return `'${value}'`
  if (preferred === '"') return doubleQuoted(value)
  if (!/[\s#"'\\$`]/.test(value)) return value
  return singleQuotable ? `'${value}'` : doubleQuoted(value)
}

function doubleQuoted(value: string): string {
  const escaped = value.replace(/[\\"$\n\r\t]/g, (ch) => ({'\n': '\\n', '\r': '\\r', '\t': '\\t'})[ch] ?? `\\${ch}`)
  return `"${escaped}"`
}

function parseEnvLine(raw: string): EnvLine | 'malformed' {
  const trimmed = raw.trim()
  if (trimmed === '' || trimmed.startsWith('#')) return {kind: 'other', raw}
  const match = ENTRY_PATTERN.exec(raw)
  if (!match) return 'malformed'
  const parsed = parseEnvValue(match[4])
  if (parsed === undefined) return 'malformed'
  return {kind: 'entry', key: match[3], raw, exported: Boolean(match[2]), ...parsed}
}

/** Unquotes a value; undefined for an unterminated quote. */
function parseEnvValue(text: string): {value: string; quote: Quote; comment: string} | undefined {
  const quote = text[0]
  if (quote === '"' || quote === "'") {
    const end = findClosingQuote(text, quote)
    if (end === -1) return undefined
    const inner = text.slice(1, end)
    const rest = text.slice(end + 1).trim()
    return {value: quote === '"' ? unescapeDoubleQuoted(inner) : inner, quote, comment: rest.startsWith('#') ? rest : ''}
  }
  const commentAt = text.search(/\s#/)
  const value = (commentAt === -1 ? text : text.slice(0, commentAt)).trim()
  return {value, quote: '', comment: commentAt === -1 ? '' : text.slice(commentAt).trim()}
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

const STRICT_UTF8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})
/** A byte that is not part of valid UTF-8 is kept as U+DC80-U+DCFF, a lone surrogate no valid text contains (Python's "surrogateescape"). */
const ESCAPED_BYTE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g

/**
 * The file's text with every byte kept: valid UTF-8 decoded, and each byte
 * that is not (a latin-1 comment, a truncated sequence) mapped to a lone
 * surrogate that encodeEnvText turns back into the same byte. Lines mcpauth
 * does not change are thus written back byte for byte.
 */
export function decodeEnvBytes(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes)
  } catch {
    // Not UTF-8 throughout: decoded run by run below.
  }
  let text = ''
  let runStart = 0
  let index = 0
  while (index < bytes.length) {
    const length = utf8SequenceLength(bytes, index)
    if (length > 0) {
      index += length
      continue
    }
    text += STRICT_UTF8.decode(bytes.subarray(runStart, index)) + String.fromCharCode(0xdc00 + bytes[index])
    index++
    runStart = index
  }
  return text + STRICT_UTF8.decode(bytes.subarray(runStart))
}

/** The bytes of text from decodeEnvBytes: UTF-8, with each escaped byte restored as it was read. */
export function encodeEnvText(text: string): Buffer {
  if (text.search(ESCAPED_BYTE) === -1) return Buffer.from(text, 'utf8')
  const parts: Buffer[] = []
  let last = 0
  for (const match of text.matchAll(ESCAPED_BYTE)) {
    parts.push(Buffer.from(text.slice(last, match.index), 'utf8'), Buffer.of(match[0].charCodeAt(0) - 0xdc00))
    last = match.index + 1
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'))
  return Buffer.concat(parts)
}

/** How many bytes the valid UTF-8 sequence at `index` takes (RFC 3629: no overlong forms, no surrogates), 0 when there is none. */
function utf8SequenceLength(bytes: Uint8Array, index: number): number {
  const lead = bytes[index]
  if (lead < 0x80) return 1
  const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
  if (length === 0 || index + length > bytes.length) return 0
  for (let offset = 1; offset < length; offset++) if ((bytes[index + offset] & 0xc0) !== 0x80) return 0
  const second = bytes[index + 1]
  if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f) || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f)) return 0
  return length
}
