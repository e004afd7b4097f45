import {mkdir, readFile, readdir} from 'node:fs/promises'
import {basename, dirname, resolve} from 'node:path'

import {McpAuthError, ExitCode} from '../errors.js'

/**
 * One login per JSON file in a token directory, in the MCP Gateway
 * Registry's egress format (`.oauth-tokens/<provider>[-<server>]-egress.json`):
 * `access_token`, `refresh_token`, `expires_at` (epoch seconds), `token_type`,
 * `scope`, plus what a refresh needs (`token_endpoint` or `issuer`,
 * `client_id`, `client_secret_env` naming the `.env` key of the secret).
 * Fields mcpauth does not know (`provider`, `cloud_id`, `saved_at`…) are kept
 * as they are, in their order.
 */

export type TokenFileDocument = Record<string, unknown>

const EGRESS_SUFFIX = 'egress.json'
const MCPAUTH_SUFFIX = `-${EGRESS_SUFFIX}`

/** The token files of a directory (`*egress.json`: the registry's client configs beside them are not logins), sorted by name. */
export async function listTokenFiles(directory: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new McpAuthError(`Cannot read the token directory ${directory}: ${code ?? String(error)}.`, {
      code: 'tokens_dir_unreadable',
      exitCode: code === 'ENOENT' ? ExitCode.usage : ExitCode.unreachable,
      hint: code === 'ENOENT' ? 'Check --tokens-dir (the registry keeps its tokens in .oauth-tokens).' : undefined,
    })
  }
  return names
    .filter((name) => name.endsWith(EGRESS_SUFFIX) && !name.startsWith('.'))
    .sort()
    .map((name) => resolve(directory, name))
}

/** Where mcpauth keeps the login `name` in `directory`. */
export function tokenFilePath(directory: string, name: string): string {
  return resolve(directory, `${name}${MCPAUTH_SUFFIX}`)
}

/** `atlassian-jira-egress.json` -> `atlassian-jira`. */
export function loginNameOfFile(path: string): string {
  const file = basename(path)
  const stem = file.endsWith(MCPAUTH_SUFFIX) ? file.slice(0, -MCPAUTH_SUFFIX.length) : file.slice(0, -EGRESS_SUFFIX.length)
  return stem.replace(/[-_.]+$/, '') || file
}

/** The file's document; undefined when it does not exist; exit 4 when it cannot be read or is not a JSON object. */
export async function readTokenFile(path: string): Promise<TokenFileDocument | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw tokenFileError(path, code ?? String(error))
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    // The parser's message would quote the text, and with it a token.
    throw tokenFileError(path, 'not valid JSON')
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw tokenFileError(path, 'not a JSON object')
  return document as TokenFileDocument
}

/**
 * Changes a token file under its lock: `change` edits the document as it is
 * once the lock is held (an empty one for a new file); the result is written
 * atomically with mode 0600. The directory is created (0700) when missing.
 */
export async function updateTokenFile(path: string, change: (document: TokenFileDocument) => void): Promise<void> {
  await mkdir(dirname(resolve(path)), {recursive: true, mode: 0o700})
  // Loaded here: reading a token file needs neither.
  const [{withFileLock}, {writeFileAtomic}] = await Promise.all([import('../env/file-lock.js'), import('../env/atomic-file.js')])
  await withFileLock(path, async () => {
    const document = (await readTokenFile(path)) ?? {}
    change(document)
    await writeFileAtomic(path, `${JSON.stringify(document, null, 2)}\n`)
  })
}

export function stringOf(document: TokenFileDocument, field: string): string | undefined {
  const value = document[field]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function tokenFileError(path: string, problem: string): McpAuthError {
  return new McpAuthError(`Cannot read the token file ${path}: ${problem}.`, {code: 'token_file_unreadable', exitCode: ExitCode.unreachable})
}
