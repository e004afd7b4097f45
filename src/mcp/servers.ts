import {readFile} from 'node:fs/promises'

import type {Settings} from '../env/settings.js'
import {McpAuthError, ExitCode, usageError} from '../errors.js'
import type {LoginRef} from '../logins/login-token.js'
import {isLoopbackHost, requireSecureUrl} from '../oauth/network.js'

/**
 * The gateway's MCP servers that client configs point at. One grammar
 * everywhere: `NAME=URL`, or `NAME=URL noauth` for a server that takes no
 * token (it gets no headers). Where they come from, first match wins:
 * `--server`/`--servers-file`, then `MCP_SERVERS` (comma-separated), then
 * `MCP_SERVER_URL` alone under a name derived from its host.
 */

export interface McpServer {
  name: string
  url: string
  /** False for a server marked `noauth`: it is written without a token. */
  auth: boolean
  /** The login whose token the server takes; the MCP client's (MCP_CLIENT_ACCESS_TOKEN) when absent. */
  login?: LoginRef
  /** The transport the registry names first (Roo Code's `type`), for servers from the registry. */
  transport?: string
}

export interface ServerSources {
  /** `--server` values. */
  specs: readonly string[]
  /** `--servers-file`. */
  file?: string
  /** Servers of the registry's folder (`--registry`), already paired with their logins. */
  registry?: readonly McpServer[]
}

export type ServerSourceName = '--server' | '--servers-file' | '--registry' | 'MCP_SERVERS' | 'MCP_SERVER_URL'

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/
const NOAUTH_MARKER = 'noauth'

export async function resolveMcpServers(settings: Settings, sources: ServerSources): Promise<{servers: McpServer[]; from: ServerSourceName[]}> {
  const servers: McpServer[] = []
  const from: ServerSourceName[] = []
  if (sources.specs.length > 0) {
    servers.push(...sources.specs.map((spec) => parseServerSpec(spec, '--server')))
    from.push('--server')
  }
  if (sources.file) {
    servers.push(...(await readServersFile(sources.file)))
    from.push('--servers-file')
  }
  if (sources.registry) {
    servers.push(...sources.registry)
    from.push('--registry')
  }
  if (from.length === 0) {
    const listed = settings.get('MCP_SERVERS')
    const single = settings.get('MCP_SERVER_URL')
    if (listed) {
      servers.push(
        ...listed
          .split(',')
          .filter((spec) => spec.trim() !== '')
          .map((spec) => parseServerSpec(spec, 'MCP_SERVERS')),
      )
      from.push('MCP_SERVERS')
    } else if (single) {
      servers.push(checkedServer(serverNameFromUrl(single), single, true, 'MCP_SERVER_URL'))
      from.push('MCP_SERVER_URL')
    }
  }
  if (servers.length === 0) {
    throw usageError(
      'No MCP server to configure.',
      'Pass --server NAME=URL (repeatable), --servers-file PATH or --registry DIR, or set MCP_SERVERS=name=url,other=url (or MCP_SERVER_URL) in .env.',
    )
  }
  rejectDuplicateNames(servers)
  return {servers, from}
}

/** `NAME=URL` or `NAME=URL noauth`; `where` names the source in the error. */
export function parseServerSpec(spec: string, where: string): McpServer {
  const words = spec.trim().split(/\s+/)
  const noauth = words.length === 2 && words[1].toLowerCase() === NOAUTH_MARKER
  const assignment = words[0] ?? ''
  const equals = assignment.indexOf('=')
  if (words.length > 2 || (words.length === 2 && !noauth) || equals <= 0) {
    throw usageError(`${where}: "${spec.trim()}" is not NAME=URL (or NAME=URL ${NOAUTH_MARKER}).`, 'Example: --server fetch=https://mcp-fetch.example.com/mcp')
  }
  return checkedServer(assignment.slice(0, equals), assignment.slice(equals + 1), !noauth, where)
}

/** `mcp-fetch.example.com` -> `mcp-fetch`; an address or a name without a dot -> `gateway`. */
export function serverNameFromUrl(text: string): string {
  let host: string
  try {
    host = new URL(text).hostname
  } catch {
    return 'gateway'
  }
  const label = host.split('.')[0].replace(/[^A-Za-z0-9_-]/g, '-')
  const isAddress = /^\d+$/.test(label) || host.startsWith('[') || isLoopbackHost(host)
  return !isAddress && host.includes('.') && NAME_PATTERN.test(label) ? label : 'gateway'
}

async function readServersFile(path: string): Promise<McpServer[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new McpAuthError(`Cannot read the servers file ${path}: ${code ?? String(error)}.`, {
      code: 'servers_file_unreadable',
      exitCode: code === 'ENOENT' ? ExitCode.usage : ExitCode.unreachable,
    })
  }
  const servers: McpServer[] = []
  text.split(/\r?\n/).forEach((line, index) => {
    // A `#` starts a comment at the start of a line or after a space; inside a URL it is a fragment.
    const content = line.replace(/(^|\s)#.*$/, '').trim()
    if (content !== '') servers.push(parseServerSpec(content, `${path} line ${index + 1}`))
  })
  return servers
}

export function checkedServer(name: string, urlText: string, auth: boolean, where: string): McpServer {
  if (!NAME_PATTERN.test(name)) {
    throw usageError(`${where}: the server name "${name}" must start with a letter and hold only letters, digits, "-" and "_" (64 at most).`)
  }
  let url: URL
  try {
    url = new URL(urlText)
  } catch {
    throw usageError(`${where}: the URL of ${name} is not a valid URL: "${urlText}".`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${where}: the URL of ${name} must be http or https, not ${url.protocol}`)
  if (url.username || url.password) throw usageError(`${where}: the URL of ${name} holds a user or password; put no credentials in a server URL.`)
  if (auth) {
    try {
      requireSecureUrl(urlText, `${where}: the URL of ${name}`)
    } catch (error) {
      throw usageError(
        (error as Error).message,
        `The token would cross the network in clear text. Use https, or mark a server that takes no token: ${name}=${urlText} ${NOAUTH_MARKER}`,
      )
    }
  }
  return {name, url: url.href, auth}
}

function rejectDuplicateNames(servers: McpServer[]): void {
  const seen = new Set<string>()
  for (const {name} of servers) {
    if (seen.has(name)) throw usageError(`The server name "${name}" is given twice.`, 'Each server needs its own name.')
    seen.add(name)
  }
}
