import {join} from 'node:path'

import {usageError} from '../errors.js'
import type {McpServer} from './servers.js'

/**
 * How each MCP client spells a remote server in its config file, where that
 * file lives, and how it refers to an environment variable. Checked against
 * each client's documentation (README, "mcp-config").
 */

export const MCP_CLIENT_IDS = ['claude-code', 'vscode', 'cursor', 'windsurf', 'roo', 'claude-desktop'] as const
export type McpClientId = (typeof MCP_CLIENT_IDS)[number]

/** How the token reaches the client: in the file, as a variable the client expands, or from `mcp-headers`. */
export type TokenForm = 'literal' | 'env-ref' | 'helper'

export type ServerAuth = {form: 'none'} | {form: 'literal'; token: string} | {form: 'env-ref'; variable: string} | {form: 'helper'; command: string}

export type ServerEntry = Record<string, unknown>

export interface HomePlaces {
  cwd: string
  home: string
  platform: NodeJS.Platform
  env: NodeJS.ProcessEnv
}

export interface McpClientFormat {
  id: McpClientId
  label: string
  /** The top-level key that maps server names to entries. */
  serversKey: 'mcpServers' | 'servers'
  /** project: a file in the working directory (often committed); user: one in the home directory. */
  scope: 'project' | 'user'
  defaultPath(places: HomePlaces): string
  /** The client's own syntax for an environment variable inside a header; absent when it has none. */
  envReference?: (variable: string) => string
  supportsHelper: boolean
  /** Keys of an existing entry that are the user's choices, kept when mcpauth replaces the entry. */
  userKeys: readonly string[]
  entry(server: McpServer, auth: ServerAuth): ServerEntry
}

const CLAUDE_DESKTOP_FILE = 'claude_desktop_config.json'

const FORMATS: Record<McpClientId, McpClientFormat> = {
  'claude-code': {
    id: 'claude-code',
    label: 'Claude Code',
    serversKey: 'mcpServers',
    scope: 'project',
    defaultPath: ({cwd}) => join(cwd, '.mcp.json'),
    envReference: (variable) => `\${${variable}}`,
    supportsHelper: true,
    userKeys: [],
    entry: (server, auth) => ({
      type: 'http',
      url: server.url,
      ...(auth.form === 'helper' ? {headersHelper: auth.command} : bearerHeaders(auth, 'claude-code')),
    }),
  },
  vscode: {
    id: 'vscode',
    label: 'VS Code',
    serversKey: 'servers',
    scope: 'project',
    defaultPath: ({cwd}) => join(cwd, '.vscode', 'mcp.json'),
    envReference: (variable) => `\${env:${variable}}`,
    supportsHelper: false,
    userKeys: [],
    entry: (server, auth) => ({type: 'http', url: server.url, ...bearerHeaders(auth, 'vscode')}),
  },
  cursor: {
    id: 'cursor',
    label: 'Cursor',
    serversKey: 'mcpServers',
    scope: 'project',
    defaultPath: ({cwd}) => join(cwd, '.cursor', 'mcp.json'),
    envReference: (variable) => `\${env:${variable}}`,
    supportsHelper: false,
    userKeys: [],
    entry: (server, auth) => ({url: server.url, ...bearerHeaders(auth, 'cursor')}),
  },
  windsurf: {
    id: 'windsurf',
    label: 'Windsurf',
    serversKey: 'mcpServers',
    scope: 'user',
    defaultPath: ({home}) => join(home, '.codeium', 'windsurf', 'mcp_config.json'),
    envReference: (variable) => `\${env:${variable}}`,
    supportsHelper: false,
    userKeys: [],
    entry: (server, auth) => ({serverUrl: server.url, ...bearerHeaders(auth, 'windsurf')}),
  },
  roo: {
    id: 'roo',
    label: 'Roo Code',
    serversKey: 'mcpServers',
    scope: 'project',
    defaultPath: ({cwd}) => join(cwd, '.roo', 'mcp.json'),
    envReference: (variable) => `\${env:${variable}}`,
    supportsHelper: false,
    // Tools the user approved for good, and a server they switched off, stay so.
    userKeys: ['alwaysAllow', 'disabled'],
    entry: (server, auth) => ({type: 'streamable-http', url: server.url, ...bearerHeaders(auth, 'roo'), alwaysAllow: [], disabled: false}),
  },
  'claude-desktop': {
    id: 'claude-desktop',
    label: 'Claude Desktop',
    serversKey: 'mcpServers',
    scope: 'user',
    defaultPath: claudeDesktopPath,
    supportsHelper: false,
    userKeys: [],
    entry: mcpRemoteBridge,
  },
}

export function clientFormat(id: McpClientId): McpClientFormat {
  return FORMATS[id]
}

/** `--client` values: repeatable and comma lists, e.g. `cursor,vscode`; duplicates collapse. */
export function parseClientIds(values: readonly string[]): McpClientId[] {
  const ids = values
    .flatMap((value) => value.split(','))
    .map((id) => id.trim())
    .filter((id) => id !== '')
  for (const id of ids) {
    if (!(MCP_CLIENT_IDS as readonly string[]).includes(id)) throw usageError(`Unknown client "${id}".`, `Clients: ${MCP_CLIENT_IDS.join(', ')}.`)
  }
  return [...new Set(ids)] as McpClientId[]
}

function bearerHeaders(auth: ServerAuth, id: McpClientId): {headers?: Record<string, string>} {
  if (auth.form === 'literal') return {headers: {Authorization: `Bearer ${auth.token}`}}
  if (auth.form === 'env-ref') return {headers: {Authorization: `Bearer ${FORMATS[id].envReference!(auth.variable)}`}}
  return {}
}

/**
 * Claude Desktop speaks stdio only, so a remote server is reached through
 * the mcp-remote bridge. The token goes in `env`, not in `args` (where every
 * process listing would show it); mcp-remote expands `${AUTH_HEADER}` in its
 * `--header` value, and its README writes it without a space after the colon
 * because some clients split arguments on spaces.
 */
/** Pinned: the bridge is handed the token, so `npx` must not fetch whatever is newest that day. */
export const MCP_REMOTE_PACKAGE = 'mcp-remote@0.15.1'

function mcpRemoteBridge(server: McpServer, auth: ServerAuth): ServerEntry {
  const args = ['-y', MCP_REMOTE_PACKAGE, server.url]
  if (auth.form !== 'literal') return {command: 'npx', args}
  // biome-ignore lint/suspicious/noTemplateCurlyInString: mcp-remote expands ${AUTH_HEADER} from env, keeping the token out of argv
  return {command: 'npx', args: [...args, '--header', 'Authorization:${AUTH_HEADER}'], env: {AUTH_HEADER: `Bearer ${auth.token}`}}
}

/** Electron's per-user application data directory, where Claude Desktop keeps its config. */
function claudeDesktopPath({home, platform, env}: HomePlaces): string {
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Claude', CLAUDE_DESKTOP_FILE)
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Claude', CLAUDE_DESKTOP_FILE)
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'Claude', CLAUDE_DESKTOP_FILE)
}
