import {readFile, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {SECRET_FILE_MODE, writeFileAtomic} from '../env/atomic-file.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {withFileLock} from '../env/file-lock.js'
import {makePrivateDirectory} from '../env/safe-paths.js'
import type {McpClientFormat, ServerEntry} from './client-formats.js'

/**
 * One client config file, changed in place: the document is read, only the
 * named server entries are set (an existing entry keeps its position, a new
 * one goes last), everything else (other servers, other top-level keys, key
 * order, indentation) stays. A file mcpauth cannot read back exactly
 * (invalid JSON, or JSONC with comments it would drop) is refused and left
 * byte for byte as it was.
 */

export type ConfigFileStatus = 'created' | 'updated' | 'unchanged' | 'missing'

export interface ConfigFileUpdate {
  /** Entries by server name. */
  entries: ReadonlyMap<string, ServerEntry>
  /** The file will hold a token: it is written with mode 0600. */
  holdsToken: boolean
  /** Only replace entries the file already has, and never create the file (the daemon's rewrite). */
  onlyExisting?: boolean
}

export interface ConfigFileResult {
  status: ConfigFileStatus
  /** The names whose entries were set. */
  written: string[]
}

const NEW_FILE_MODE = 0o644
const DEFAULT_INDENT = '  '

type JsonObject = Record<string, unknown>

export async function updateConfigFile(path: string, format: McpClientFormat, update: ConfigFileUpdate): Promise<ConfigFileResult> {
  if (update.onlyExisting) {
    // Checked before the lock too: the lock lives beside the file, in a directory that may be gone.
    if ((await readExisting(path)) === undefined) return {status: 'missing', written: []}
  } else {
    makePrivateDirectory(dirname(path))
  }
  return withFileLock(path, async () => {
    const existing = await readExisting(path)
    if (existing === undefined && update.onlyExisting) return {status: 'missing', written: []}
    const document = parseConfigDocument(existing?.text, path, format)
    const written = setEntries(document, format, update)
    if (written.length === 0) return {status: 'unchanged', written}
    const text = renderDocument(document, existing?.text)
    if (text === existing?.text) return {status: 'unchanged', written}
    const mode = update.holdsToken ? SECRET_FILE_MODE : (existing?.mode ?? NEW_FILE_MODE)
    await writeFileAtomic(path, text, {mode})
    return {status: existing === undefined ? 'created' : 'updated', written}
  })
}

/** The document a client would read: `{}` for an absent or blank file; refuses what it cannot round-trip. */
export function parseConfigDocument(text: string | undefined, path: string, format: McpClientFormat): JsonObject {
  const body = (text ?? '').replace(/^\uFEFF/, '')
  if (body.trim() === '') return {}
  let document: unknown
  try {
    document = JSON.parse(body)
  } catch (error) {
    throw unreadableDocument(body, path, error)
  }
  if (!isPlainObject(document))
    throw usageError(`${path} is JSON but not an object; mcpauth leaves it alone.`, 'Fix the file, or write elsewhere with --output PATH.')
  const servers = document[format.serversKey]
  if (servers !== undefined && !isPlainObject(servers)) {
    throw usageError(
      `"${format.serversKey}" in ${path} is not an object; mcpauth leaves the file alone.`,
      'Fix the file, or write elsewhere with --output PATH.',
    )
  }
  return document
}

/** The new text: two-space (or the file's own) indentation, its line endings, a final newline. */
export function renderDocument(document: JsonObject, previous: string | undefined): string {
  const indent = /\n([ \t]+)\S/.exec(previous ?? '')?.[1] ?? DEFAULT_INDENT
  const bom = previous?.startsWith('\uFEFF') ? '\uFEFF' : ''
  const text = `${bom}${JSON.stringify(document, null, indent)}\n`
  return previous?.includes('\r\n') ? text.replace(/\n/g, '\r\n') : text
}

function setEntries(document: JsonObject, format: McpClientFormat, update: ConfigFileUpdate): string[] {
  const servers = (document[format.serversKey] as JsonObject | undefined) ?? {}
  const written: string[] = []
  for (const [name, entry] of update.entries) {
    const previous = servers[name]
    if (update.onlyExisting && previous === undefined) continue
    servers[name] = update.onlyExisting && isPlainObject(previous) ? withNewToken(previous, entry) : {...entry, ...keptUserKeys(format, previous)}
    written.push(name)
  }
  document[format.serversKey] = servers
  return written
}

function keptUserKeys(format: McpClientFormat, previous: unknown): JsonObject {
  return isPlainObject(previous) ? Object.fromEntries(format.userKeys.filter((key) => key in previous).map((key) => [key, previous[key]])) : {}
}

/**
 * The entry as the user left it, with only the token-bearing values (`headers`,
 * the bridge's `env`) taken from the new entry: a refresh keeps their own
 * headers, a pinned bridge version or an edited URL.
 */
function withNewToken(previous: JsonObject, entry: ServerEntry): JsonObject {
  const updated: JsonObject = {...previous}
  for (const key of ['headers', 'env'] as const) {
    const fresh = (entry as JsonObject)[key]
    if (isPlainObject(fresh)) updated[key] = {...(isPlainObject(previous[key]) ? previous[key] : {}), ...fresh}
  }
  return updated
}

/** A config file's text and mode; undefined when it does not exist, exit 4 when it cannot be read. */
export async function readExisting(path: string): Promise<{text: string; mode: number} | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)])
    return {text, mode: info.mode & 0o777}
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new McpAuthError(`Cannot read ${path}: ${code ?? String(error)}.`, {code: 'config_unreadable', exitCode: ExitCode.unreachable})
  }
}

/** The parser's own message quotes the text, which may hold a token: only the position is shown. */
function unreadableDocument(body: string, path: string, error: unknown): McpAuthError {
  if (parsesAsJsonc(body)) {
    return usageError(
      `${path} has comments or trailing commas (JSONC); rewriting it would drop them, so mcpauth leaves it alone.`,
      'Remove the comments and trailing commas, or use --stdout and paste the entries yourself.',
    )
  }
  const position = /position (\d+)/.exec((error as Error).message)?.[1]
  const where = position === undefined ? '' : ` at ${lineAndColumn(body, Number(position))}`
  return usageError(`${path} is not valid JSON${where}; mcpauth leaves it alone.`, 'Fix the file, or write elsewhere with --output PATH.')
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n')
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`
}

/** Whether the text is JSON once comments and trailing commas (what VS Code's JSONC allows) are taken out. */
export function parsesAsJsonc(text: string): boolean {
  try {
    JSON.parse(stripJsonc(text))
    return true
  } catch {
    return false
  }
}

function stripJsonc(text: string): string {
  let output = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch === '"') {
      const end = closingQuote(text, i)
      output += text.slice(i, end + 1)
      i = end
    } else if (ch === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
      output += '\n'
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 1
      output += ' '
    } else {
      output += ch
    }
  }
  return output.replace(/,(\s*[}\]])/g, '$1')
}

function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === '"') return i
  }
  return text.length - 1
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
