import {statSync} from 'node:fs'
import {resolve} from 'node:path'

import type {Settings} from '../env/settings.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {
  type HomePlaces,
  type McpClientFormat,
  type McpClientId,
  type ServerAuth,
  type ServerEntry,
  type TokenForm,
  MCP_CLIENT_IDS,
  clientFormat,
} from './client-formats.js'
import {type ConfigFileStatus, parseConfigDocument, readExisting, updateConfigFile} from './config-file.js'
import {type RecordedFile, clientsManifestPath, readManifest, recordWrittenFiles} from './manifest.js'
import type {McpServer} from './servers.js'
import {MCP_CLIENT_LOGIN} from '../oauth/login.js'
import {type LoginRef, type SavedToken, describeLoginRef, loginToken} from '../logins/login-token.js'

/**
 * Client configuration files for the gateway's MCP servers: written for
 * each client in its own format, merged into what is there, recorded beside
 * `.env` so that `rewriteRecordedConfigs` can put a refreshed token into the
 * files that hold it literally.
 */

export const TOKEN_VARIABLE = MCP_CLIENT_LOGIN.accessToken

export interface McpConfigRequest {
  clients: readonly McpClientId[]
  servers: readonly McpServer[]
  tokenForm: TokenForm
  /** Only with one client: write there instead of the client's default location. */
  outputPath?: string
  places: HomePlaces
  /** For `--helper`: the command Claude Code runs (see headersHelperCommand). */
  helperCommand?: string
}

export interface WrittenConfig {
  client: McpClientId
  path: string
  servers: string[]
  /** How the token is in the file; 'none' when every server is noauth. */
  token: TokenForm | 'none'
  status: Exclude<ConfigFileStatus, 'missing'>
}

export interface RewriteResult {
  client: string
  path: string
  status: 'rewritten' | 'unchanged' | 'failed'
  reason: string | null
}

/** The MCP client's login: what a server without a login of its own takes. */
export const MCP_CLIENT_TOKEN: LoginRef = {env_key: TOKEN_VARIABLE}

/** Writes (merges) each client's file and records it; every target is checked before any is written. */
export async function writeMcpConfigs(settings: Settings, request: McpConfigRequest): Promise<WrittenConfig[]> {
  checkRequest(request)
  const manifestPath = clientsManifestPath(settings.envFilePath)
  await readManifest(manifestPath)
  const auth = await authFor(settings, request)
  const targets = request.clients.map((id) => ({format: clientFormat(id), path: resolve(request.outputPath ?? clientFormat(id).defaultPath(request.places))}))
  for (const {format, path} of targets) parseConfigDocument((await readExisting(path))?.text, path, format)

  const token = fileToken(request)
  const written: WrittenConfig[] = []
  for (const {format, path} of targets) {
    const entries = new Map(request.servers.map((server) => [server.name, format.entry(server, auth(server))]))
    const {status} = await updateConfigFile(path, format, {entries, holdsToken: token === 'literal'})
    // Never 'missing': only the daemon's rewrite leaves absent files alone.
    written.push({client: format.id, path, servers: request.servers.map((server) => server.name), token, status: status as WrittenConfig['status']})
  }
  const now = new Date().toISOString()
  await recordWrittenFiles(
    manifestPath,
    written.map(
      (file): RecordedFile => ({
        client: file.client,
        path: file.path,
        servers: request.servers.map((server) => ({...server, token: server.auth ? request.tokenForm : 'none'})),
        updated_at: now,
      }),
    ),
  )
  return written
}

/** The document `--stdout` prints: this run's entries only, nothing read from or written to disk. */
export async function mcpConfigDocument(settings: Settings, request: McpConfigRequest): Promise<Record<string, unknown>> {
  checkRequest(request)
  if (request.clients.length !== 1) throw usageError("--stdout prints one client's document: pass exactly one --client.")
  const format = clientFormat(request.clients[0])
  const auth = await authFor(settings, request)
  return {[format.serversKey]: Object.fromEntries(request.servers.map((server) => [server.name, format.entry(server, auth(server))]))}
}

/**
 * Puts the current MCP_CLIENT_ACCESS_TOKEN into every file an earlier
 * mcp-config run wrote with the literal token (files with a variable
 * reference or a headersHelper need nothing). Only mcpauth's entries that
 * are still in the file are replaced; a file that is gone is not recreated.
 * Never throws: each file's outcome is in the result.
 */
export async function rewriteRecordedConfigs(settings: Settings): Promise<RewriteResult[]> {
  const manifestPath = clientsManifestPath(settings.envFilePath)
  let files: RecordedFile[]
  try {
    files = (await readManifest(manifestPath)).files.filter((file) => file.servers.some((server) => server.token === 'literal'))
  } catch (error) {
    return [{client: '-', path: manifestPath, status: 'failed', reason: messageOf(error)}]
  }
  const tokens = new LoginTokens(settings)
  const results: RewriteResult[] = []
  for (const file of files) results.push(await rewriteRecordedFile(file, tokens))
  return results
}

/** Defined beside mcp-headers' launch path, which must not load this module. */
export {savedMcpClientToken} from './headers.js'

export function missingTokenError(envFilePath: string): McpAuthError {
  const hint = 'Run mcpauth mcp-client-token first (or write the config with --env-ref or --helper, which need no token now).'
  return new McpAuthError(`There is no ${TOKEN_VARIABLE} in ${envFilePath} or the environment.`, {
    code: 'token_missing',
    exitCode: ExitCode.unreachable,
    hint: notARegularFile(envFilePath) ? `${hint} ${PIPE_READ_BY_NODE}` : hint,
  })
}

/** Node 20 takes `--env-file` after the script name as its own option too, and reads a pipe empty before mcpauth does. */
const PIPE_READ_BY_NODE =
  'If the pipe did hold the token: started as `node bin/run.js … --env-file <(…)`, Node 20 reads that pipe itself first; start it as `mcpauth …` or `node -- bin/run.js …`.'

function notARegularFile(path: string): boolean {
  try {
    return !statSync(path).isFile()
  } catch {
    return false
  }
}

/**
 * The shell command Claude Code runs as headersHelper: absolute paths to
 * node, to this CLI and to the `.env`, so it works from any directory and
 * whatever PATH the client has. `--` stops node from taking `--env-file`.
 */
export function headersHelperCommand(parts: {nodePath: string; cliPath: string; envFilePath: string}): string {
  return [shellQuote(parts.nodePath), '--', shellQuote(resolve(parts.cliPath)), 'mcp-headers', '--env-file', shellQuote(resolve(parts.envFilePath))].join(' ')
}

function checkRequest(request: McpConfigRequest): void {
  if (request.clients.length === 0)
    throw usageError('Say which client to configure with --client.', `Clients: ${MCP_CLIENT_IDS.join(', ')} (repeat --client or separate with commas).`)
  if (request.outputPath !== undefined && request.clients.length !== 1) throw usageError('--output names one file: use it with exactly one --client.')
  for (const id of request.clients) {
    const format = clientFormat(id)
    if (request.tokenForm === 'env-ref' && !format.envReference) {
      throw usageError(
        `${format.label} expands no variables in its config, so --env-ref cannot be used for it.`,
        'Write the literal token (refresh-tokens --watch keeps it current).',
      )
    }
    if (request.tokenForm === 'helper' && !format.supportsHelper) {
      throw usageError(
        `--helper writes Claude Code's headersHelper; ${format.label} has no such setting.`,
        'Use --client claude-code with --helper, or --env-ref for the others.',
      )
    }
  }
  if (request.tokenForm === 'helper' && !request.helperCommand) throw new Error('helperCommand is required with --helper')
  const ownLogins = request.servers.filter((server) => server.auth && server.login)
  if (request.tokenForm === 'helper' && ownLogins.length > 0) {
    throw usageError(
      `--helper runs mcp-headers, which serves the MCP client's login; these servers take the token of a login of their own: ${ownLogins.map((server) => server.name).join(', ')}.`,
      'Write those with the literal token (refresh-tokens --watch keeps it current).',
    )
  }
  const inFiles = ownLogins.filter((server) => server.login && 'token_file' in server.login)
  if (request.tokenForm === 'env-ref' && inFiles.length > 0) {
    throw usageError(
      `--env-ref names a variable, and the tokens of these servers are in token files, not in .env: ${inFiles.map((server) => server.name).join(', ')}.`,
      'Write those with the literal token (refresh-tokens --watch keeps it current).',
    )
  }
}

async function authFor(settings: Settings, request: McpConfigRequest): Promise<(server: McpServer) => ServerAuth> {
  const tokens = new LoginTokens(settings)
  if (fileToken(request) === 'literal') {
    for (const server of request.servers.filter((candidate) => candidate.auth)) {
      if (!(await tokens.of(server))) throw server.login ? missingLoginTokenError(server, settings) : missingTokenError(settings.envFilePath)
    }
  }
  return (server) => {
    if (!server.auth) return {form: 'none'}
    if (request.tokenForm === 'helper') return {form: 'helper', command: request.helperCommand!}
    const login = server.login ?? MCP_CLIENT_TOKEN
    if (request.tokenForm === 'env-ref') return {form: 'env-ref', variable: 'env_key' in login ? login.env_key : TOKEN_VARIABLE}
    return {form: 'literal', token: tokens.known(server)!}
  }
}

/** Each login's current token, read once per run. */
class LoginTokens {
  private readonly read = new Map<string, Promise<SavedToken | undefined>>()
  private readonly found = new Map<string, string>()

  constructor(private readonly settings: Settings) {}

  async of(server: McpServer): Promise<string | undefined> {
    const login = server.login ?? MCP_CLIENT_TOKEN
    const key = JSON.stringify(login)
    if (!this.read.has(key)) this.read.set(key, loginToken(this.settings, login))
    const saved = await this.read.get(key)
    if (saved) this.found.set(key, saved.token)
    return saved?.token
  }

  known(server: McpServer): string | undefined {
    return this.found.get(JSON.stringify(server.login ?? MCP_CLIENT_TOKEN))
  }

  describe(server: McpServer): string {
    return describeLoginRef(server.login ?? MCP_CLIENT_TOKEN, this.settings.envFilePath)
  }
}

function missingLoginTokenError(server: McpServer, settings: Settings): McpAuthError {
  return new McpAuthError(`The server ${server.name} takes ${describeLoginRef(server.login!, settings.envFilePath)}, which is missing or empty.`, {
    code: 'token_missing',
    exitCode: ExitCode.unreachable,
    hint: 'Sign that login in (mcp-client-token --name NAME) or refresh it (refresh-tokens), then run this again.',
  })
}

function fileToken(request: McpConfigRequest): TokenForm | 'none' {
  return request.servers.some((server) => server.auth) ? request.tokenForm : 'none'
}

async function rewriteRecordedFile(file: RecordedFile, tokens: LoginTokens): Promise<RewriteResult> {
  const result = (status: RewriteResult['status'], reason: string | null): RewriteResult => ({client: file.client, path: file.path, status, reason})
  if (!(MCP_CLIENT_IDS as readonly string[]).includes(file.client)) return result('failed', `unknown client "${file.client}"`)
  const format: McpClientFormat = clientFormat(file.client as McpClientId)
  const entries = new Map<string, ServerEntry>()
  try {
    for (const server of file.servers.filter((candidate) => candidate.token === 'literal')) {
      const token = await tokens.of(server)
      if (!token) return result('failed', `${tokens.describe(server)} is missing or empty`)
      entries.set(server.name, format.entry(server, {form: 'literal', token}))
    }
    const {status, written} = await updateConfigFile(file.path, format, {entries, holdsToken: true, onlyExisting: true})
    if (status === 'missing') return result('unchanged', 'the file is gone; not recreated (mcp-config --forget drops its record)')
    if (written.length === 0) return result('unchanged', 'its mcpauth entries were removed from the file; left alone')
    return result(status === 'unchanged' ? 'unchanged' : 'rewritten', null)
  } catch (error) {
    return result('failed', messageOf(error))
  }
}

function shellQuote(text: string): string {
  return /^[\w/.:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.$/, '')
}
