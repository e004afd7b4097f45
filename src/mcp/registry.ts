import {readFile, readdir, stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {readEnvFile} from '../env/env-file.js'
import type {Settings} from '../env/settings.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import {namedLoginsIn} from '../logins/env-logins.js'
import type {LoginRef} from '../logins/login-token.js'
import {listTokenFiles, loginNameOfFile, readTokenFile, stringOf} from '../logins/token-file.js'
import {type McpServer, checkedServer} from './servers.js'

/**
 * The MCP Gateway Registry's servers (`registry/servers/*.json`: server_name,
 * path, auth_type "oauth" or "none", supported_transports), each reached at
 * `<gateway><path>/mcp` and paired with the login whose token it takes. As the
 * registry's token refresher does, every token file also stands for a server
 * of its own (named after the file's server, else its provider) when the
 * registry folder has none by that name.
 */

export interface RegistryRequest {
  /** The registry's folder, or its `servers` folder. */
  registryDir?: string
  tokensDirs: readonly string[]
  /** The gateway's base URL (REGISTRY_URL in the registry's own settings). */
  gatewayUrl: string
  settings: Settings
}

export interface RegistryServers {
  servers: McpServer[]
  /** Servers left out, and why, for the operator. */
  warnings: string[]
}

interface TokenHolder {
  login: LoginRef
  /** Names it answers to in the registry, best first. */
  names: string[]
  /** The server it stands for when the registry folder does not name it. */
  ownServer: string
}

interface RegistryEntry {
  name: string
  path: string
  auth: boolean
  transport?: string
  file: string
}

const STATE_FILE = 'server_state.json'

export async function registryServers(request: RegistryRequest): Promise<RegistryServers> {
  const gateway = request.gatewayUrl.replace(/\/+$/, '')
  const warnings: string[] = []
  const holders = await tokenHolders(request.settings, request.tokensDirs)
  const entries = request.registryDir ? await readRegistryEntries(request.registryDir, warnings) : []
  const servers: McpServer[] = []
  const used = new Set<TokenHolder>()
  for (const entry of entries) {
    const holder = entry.auth ? pairWithLogin(entry.name, holders) : undefined
    if (entry.auth && !holder) {
      warnings.push(
        `${entry.file}: the server ${entry.name} needs a login and none is named ${entry.name}; left out (sign in with mcp-client-token --name ${entry.name})`,
      )
      continue
    }
    if (holder) used.add(holder)
    addServer(servers, warnings, entry.file, {
      name: entry.name,
      url: `${gateway}${entry.path}/mcp`,
      auth: entry.auth,
      login: holder?.login,
      transport: entry.transport,
    })
  }
  for (const holder of holders) {
    if (used.has(holder) || !('token_file' in holder.login) || servers.some((server) => server.name === holder.ownServer)) continue
    addServer(servers, warnings, basename(holder.login.token_file), {
      name: holder.ownServer,
      url: `${gateway}/${holder.ownServer}/mcp`,
      auth: true,
      login: holder.login,
    })
  }
  return {servers, warnings}
}

/** The gateway's base URL: the flag, else REGISTRY_URL. */
export function gatewayBaseUrl(flag: string | undefined, settings: Settings): string {
  const url = flag ?? settings.get('REGISTRY_URL')
  if (!url)
    throw usageError(
      'Registry servers are reached through the gateway: say where it is.',
      'Pass --gateway-url https://gateway.example.com, or set REGISTRY_URL.',
    )
  try {
    return new URL(url).href.replace(/\/+$/, '')
  } catch {
    throw usageError(`The gateway URL is not a valid URL: "${url}".`)
  }
}

function addServer(servers: McpServer[], warnings: string[], where: string, server: McpServer): void {
  try {
    const checked = checkedServer(server.name, server.url, server.auth, where)
    servers.push({...server, url: checked.url})
  } catch (error) {
    warnings.push(`${(error as Error).message.replace(/\.$/, '')}; left out`)
  }
}

function pairWithLogin(name: string, holders: readonly TokenHolder[]): TokenHolder | undefined {
  const wanted = name.toLowerCase()
  for (let rank = 0; rank < 3; rank++) {
    const found = holders.find((holder) => holder.names[rank]?.toLowerCase() === wanted)
    if (found) return found
  }
  return undefined
}

/** Named `.env` logins, then one per token file (known by its name, its server and its provider). */
async function tokenHolders(settings: Settings, tokensDirs: readonly string[]): Promise<TokenHolder[]> {
  const holders: TokenHolder[] = namedLoginsIn((await readEnvFile(settings.envFilePath)).values).map((keys) => ({
    login: {env_key: keys.accessToken},
    names: [keys.name],
    ownServer: keys.name,
  }))
  for (const directory of tokensDirs) {
    for (const path of await listTokenFiles(directory)) {
      const name = loginNameOfFile(path)
      const provider = stringOf((await readTokenFile(path).catch(() => undefined)) ?? {}, 'provider')
      const server = provider && name.startsWith(`${provider}-`) ? name.slice(provider.length + 1) : undefined
      holders.push({login: {token_file: path}, names: [name, server ?? name, provider ?? name], ownServer: server ?? provider ?? name})
    }
  }
  return holders
}

async function readRegistryEntries(directory: string, warnings: string[]): Promise<RegistryEntry[]> {
  const folder = (await isDirectory(join(directory, 'servers'))) ? join(directory, 'servers') : directory
  let names: string[]
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json') && name !== STATE_FILE).sort()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new McpAuthError(`Cannot read the registry folder ${folder}: ${code ?? String(error)}.`, {
      code: 'registry_unreadable',
      exitCode: code === 'ENOENT' ? ExitCode.usage : ExitCode.unreachable,
      hint: code === 'ENOENT' ? "Pass the registry's folder (the one holding servers/*.json) with --registry." : undefined,
    })
  }
  const entries: RegistryEntry[] = []
  for (const name of names) {
    const entry = parseRegistryEntry(await readFile(join(folder, name), 'utf8').catch(() => ''), name)
    if (typeof entry === 'string') warnings.push(`${name}: ${entry}; left out`)
    else entries.push(entry)
  }
  return entries
}

function parseRegistryEntry(text: string, file: string): RegistryEntry | string {
  let document: Record<string, unknown>
  try {
    document = JSON.parse(text)
  } catch {
    return 'not valid JSON'
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return 'not a JSON object'
  const path = stringOf(document, 'path')
  if (!path) return 'no "path"'
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  const transports = Array.isArray(document.supported_transports) ? document.supported_transports : []
  return {
    name: trimmed.replace(/\//g, '-'),
    path: `/${trimmed}`,
    auth: stringOf(document, 'auth_type')?.toLowerCase() !== 'none',
    transport: typeof transports[0] === 'string' ? transports[0] : undefined,
    file,
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}
