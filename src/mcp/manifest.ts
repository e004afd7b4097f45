import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'

import {writeFileAtomic} from '../env/atomic-file.js'
import {McpAuthError, ExitCode} from '../errors.js'
import {withFileLock} from '../env/file-lock.js'
import type {TokenForm} from './client-formats.js'
import type {McpServer} from './servers.js'

/**
 * What mcp-config wrote, kept beside the `.env` it read as `<env file>.mcp-clients.json`
 * (one record per `.env`, as two gateways' `.env` files may share a directory), so
 * that a refresh can rewrite the files holding the old token. It names
 * clients, absolute paths and servers, never a token; still mode 0600, as it
 * maps where tokens are.
 */

const MANIFEST_SUFFIX = '.mcp-clients.json'
const MANIFEST_FORMAT = 'mcpauth-clients'

export interface RecordedServer extends McpServer {
  /** How this server's token was written; 'none' for a noauth server. */
  token: TokenForm | 'none'
}

export interface RecordedFile {
  client: string
  /** Absolute. */
  path: string
  servers: RecordedServer[]
  updated_at: string
}

export interface ClientsManifest {
  format: typeof MANIFEST_FORMAT
  version: 1
  files: RecordedFile[]
}

export function clientsManifestPath(envFilePath: string): string {
  return `${resolve(envFilePath)}${MANIFEST_SUFFIX}`
}

export async function readManifest(path: string): Promise<ClientsManifest> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return emptyManifest()
    throw manifestError(path, code ?? String(error))
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw manifestError(path, 'not valid JSON')
  }
  if (!isManifest(parsed)) throw manifestError(path, `not an ${MANIFEST_FORMAT} file of version 1`)
  return parsed
}

/**
 * Adds files to the record; a file already there (same client and path)
 * gains the servers and keeps those it had, a server written again taking
 * its new form.
 */
export async function recordWrittenFiles(path: string, written: readonly RecordedFile[]): Promise<void> {
  if (written.length === 0) return
  await withFileLock(path, async () => {
    const manifest = await readManifest(path)
    for (const file of written) {
      const known = manifest.files.find((candidate) => candidate.client === file.client && candidate.path === file.path)
      if (!known) {
        manifest.files.push(file)
        continue
      }
      const names = new Set(file.servers.map((server) => server.name))
      known.servers = [...known.servers.filter((server) => !names.has(server.name)), ...file.servers]
      known.updated_at = file.updated_at
    }
    await writeManifest(path, manifest)
  })
}

/** Drops the records `matches` selects (the config files themselves are not touched); returns them. */
export async function forgetRecordedFiles(path: string, matches: (file: RecordedFile) => boolean): Promise<RecordedFile[]> {
  return withFileLock(path, async () => {
    const manifest = await readManifest(path)
    const forgotten = manifest.files.filter(matches)
    if (forgotten.length > 0) await writeManifest(path, {...manifest, files: manifest.files.filter((file) => !matches(file))})
    return forgotten
  })
}

async function writeManifest(path: string, manifest: ClientsManifest): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`)
}

function emptyManifest(): ClientsManifest {
  return {format: MANIFEST_FORMAT, version: 1, files: []}
}

function isManifest(value: unknown): value is ClientsManifest {
  const manifest = value as Partial<ClientsManifest> | null
  return (
    typeof manifest === 'object' &&
    manifest !== null &&
    manifest.format === MANIFEST_FORMAT &&
    manifest.version === 1 &&
    Array.isArray(manifest.files) &&
    manifest.files.every(
      (file) =>
        typeof file?.client === 'string' &&
        typeof file.path === 'string' &&
        Array.isArray(file.servers) &&
        file.servers.every((server) => typeof server?.name === 'string' && typeof server.url === 'string'),
    )
  )
}

function manifestError(path: string, problem: string): McpAuthError {
  return new McpAuthError(`Cannot read ${path}: ${problem}.`, {
    code: 'manifest_unreadable',
    exitCode: ExitCode.unreachable,
    hint: `It records which client configs hold the token; remove it and run mcp-config again for each client.`,
  })
}
