import {join, resolve} from 'node:path'

import {writeFileAtomic} from '../env/atomic-file.js'
import {makePrivateDirectory} from '../env/safe-paths.js'
import {loginToken} from '../logins/login-token.js'
import {MCP_CLIENT_TOKEN} from './config.js'
import {type RegistryRequest, registryServers} from './registry.js'
import type {McpServer} from './servers.js'

/**
 * The two files the registry's token refresher writes beside its tokens:
 * `mcp.json` (Roo Code and Claude Code: `mcpServers`, with the transport as
 * `type`) and `vscode_mcp.json` (VS Code's settings form: `mcp.servers`).
 * They are the registry's own, regenerated whole every time as it does,
 * and hold tokens: mode 0600.
 */

export const REGISTRY_CONFIG_FILES = {roo: 'mcp.json', vscode: 'vscode_mcp.json'} as const

const DEFAULT_TRANSPORT = 'streamable-http'

export interface RegistryConfigs {
  paths: string[]
  servers: string[]
}

/** `tokenOf` gives the token of each server that takes one; a server without its token is left out (its name returned). */
export async function writeRegistryConfigs(
  directory: string,
  servers: readonly McpServer[],
  tokenOf: (server: McpServer) => string | undefined,
): Promise<RegistryConfigs & {withoutToken: string[]}> {
  const roo: Record<string, unknown> = {}
  const vscode: Record<string, unknown> = {}
  const withoutToken: string[] = []
  for (const server of servers) {
    const token = server.auth ? tokenOf(server) : undefined
    if (server.auth && !token) {
      withoutToken.push(server.name)
      continue
    }
    const headers = token ? {headers: {Authorization: `Bearer ${token}`}} : {}
    const transport = server.transport ?? DEFAULT_TRANSPORT
    roo[server.name] = {type: transport, url: server.url, ...headers, disabled: false, alwaysAllow: []}
    vscode[server.name] = {type: transport === 'sse' ? 'sse' : 'http', url: server.url, ...headers}
  }
  makePrivateDirectory(directory)
  const paths = [join(resolve(directory), REGISTRY_CONFIG_FILES.roo), join(resolve(directory), REGISTRY_CONFIG_FILES.vscode)]
  await writeFileAtomic(paths[0], `${JSON.stringify({mcpServers: roo}, null, 2)}\n`)
  await writeFileAtomic(paths[1], `${JSON.stringify({mcp: {servers: vscode}}, null, 2)}\n`)
  return {paths, servers: Object.keys(roo), withoutToken}
}

export interface RegistrySync extends RegistryConfigs {
  warnings: string[]
}

/** The registry's servers paired with their logins, written with each login's current token into `outputDir`. */
export async function syncRegistryConfigs(request: RegistryRequest & {outputDir: string}): Promise<RegistrySync> {
  const {servers, warnings} = await registryServers(request)
  const tokens = new Map<McpServer, string | undefined>()
  const unreadable = new Set<McpServer>()
  for (const server of servers.filter((candidate) => candidate.auth)) {
    try {
      tokens.set(server, (await loginToken(request.settings, server.login ?? MCP_CLIENT_TOKEN))?.token)
    } catch (error) {
      unreadable.add(server)
      warnings.push(`${(error as Error).message.replace(/\.$/, '')}; the server ${server.name} is left out`)
    }
  }
  const written = await writeRegistryConfigs(request.outputDir, servers, (server) => tokens.get(server))
  for (const name of written.withoutToken) {
    if (![...unreadable].some((server) => server.name === name)) warnings.push(`the login of the server ${name} holds no usable token yet; left out`)
  }
  return {paths: written.paths, servers: written.servers, warnings}
}

/** Where the registry's files go: beside the first token directory's tokens, as the registry keeps them, else ./.oauth-tokens. */
export function registryOutputDir(tokensDirs: readonly string[]): string {
  return resolve(tokensDirs[0] ?? '.oauth-tokens')
}
