import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

import {Flags} from '@oclif/core'

import {type TokenForm, MCP_CLIENT_IDS, clientFormat, parseClientIds} from '../src/mcp/client-formats.js'
import {
  type McpConfigRequest,
  type WrittenConfig,
  TOKEN_VARIABLE,
  headersHelperCommand,
  mcpConfigDocument,
  savedMcpClientToken,
  writeMcpConfigs,
} from '../src/mcp/config.js'
import {clientsManifestPath, forgetRecordedFiles} from '../src/mcp/manifest.js'
import {type RegistryRequest, gatewayBaseUrl, registryServers} from '../src/mcp/registry.js'
import {registryOutputDir, syncRegistryConfigs} from '../src/mcp/registry-files.js'
import {resolveMcpServers} from '../src/mcp/servers.js'
import {formatTime} from '../src/output.js'
import {BaseCommand} from './_shared/base-command.js'

export interface McpConfigReport {
  files: WrittenConfig[]
  /** With --format registry: the registry's two files and the servers in them. */
  registry: {files: string[]; servers: string[]; warnings: string[]} | null
}

export interface ForgetReport {
  forgotten: Array<{client: string; path: string}>
}

const STATUS_VERB: Record<WrittenConfig['status'], string> = {created: 'Created', updated: 'Updated', unchanged: 'Already up to date:'}
const TOKEN_LABEL: Record<WrittenConfig['token'], string> = {
  literal: 'the token itself, mode 0600',
  'env-ref': `a reference to $${TOKEN_VARIABLE}`,
  helper: 'headersHelper running mcpauth mcp-headers',
  none: 'no token (noauth servers)',
}

export default class McpConfig extends BaseCommand<typeof McpConfig> {
  static override summary = "Write MCP client configs (Claude Code, VS Code, Cursor, Windsurf, Roo Code, Claude Desktop) for the gateway's servers"
  static override description =
    `Each --client gets its own file in its own format, at its usual place (or --output): claude-code ./.mcp.json, vscode ./.vscode/mcp.json, cursor ./.cursor/mcp.json, roo ./.roo/mcp.json, windsurf ~/.codeium/windsurf/mcp_config.json, claude-desktop its claude_desktop_config.json (through the mcp-remote bridge, as it speaks stdio only). An existing file is merged: other servers and other keys stay, in their order; only the entries named here are replaced. A file that is not plain JSON (or is JSONC with comments) is refused and left untouched (exit 2).

Servers: --server NAME=URL (repeatable) and --servers-file PATH (one NAME=URL a line, # comments); else MCP_SERVERS in .env (name=url,name=url); else MCP_SERVER_URL under a name taken from its host. Append " noauth" (NAME=URL noauth) for a server that takes no token: it gets no headers. Servers that get a token need https (http only on loopback).

The token is MCP_CLIENT_ACCESS_TOKEN from .env (run mcp-client-token first). Files holding it are written with mode 0600 and recorded in .env.mcp-clients.json (the --env-file path + .mcp-clients.json) (no token in it), so refresh-tokens --watch can rewrite them after each refresh. --env-ref writes each client's variable reference instead (\${MCP_CLIENT_ACCESS_TOKEN} for Claude Code, \${env:MCP_CLIENT_ACCESS_TOKEN} for the others); --helper (Claude Code) writes a headersHelper that runs mcp-headers, so the file holds no token and the client always gets a fresh one. --stdout prints the document instead of writing it, token included (asking for --stdout is asking to see it). --forget drops the record of the selected clients' files (all without --client) and leaves the files alone.

The MCP Gateway Registry: --registry DIR adds the servers of DIR/servers/*.json (server_name, path, auth_type, supported_transports), reached at <--gateway-url or REGISTRY_URL><path>/mcp. A server with auth_type "none" gets no header; any other takes the token of the login named like its path (a named login in .env, or a token file of --tokens-dir by its name, server or provider); one without such a login is left out with a warning. Each token file is also a server of its own. --format registry also writes the registry's two files, mcp.json (Roo Code, Claude Code) and vscode_mcp.json (VS Code settings), whole, mode 0600, in the first --tokens-dir (else ./.oauth-tokens); --client is then optional.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --client claude-code --helper --server fetch=https://mcp-fetch.example.com/mcp',
    '<%= config.bin %> <%= command.id %> --client cursor,vscode --server fetch=https://mcp-fetch.example.com/mcp --server "docs=https://docs.example.com/mcp noauth"',
    '<%= config.bin %> <%= command.id %> --client windsurf --env-ref --servers-file servers',
    '<%= config.bin %> <%= command.id %> --client claude-desktop',
    '<%= config.bin %> <%= command.id %> --client roo --output ~/work/app/.roo/mcp.json --json',
    '<%= config.bin %> <%= command.id %> --client vscode --stdout > /tmp/mcp.json',
    '<%= config.bin %> <%= command.id %> --forget --client cursor',
    '<%= config.bin %> <%= command.id %> --format registry --registry registry --tokens-dir .oauth-tokens --gateway-url https://gateway.example.com',
  ]

  static override flags = {
    client: Flags.string({
      char: 'c',
      summary: `Client to configure: ${MCP_CLIENT_IDS.join(', ')}. Repeatable, or a comma list.`,
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'CLIENT',
    }),
    server: Flags.string({
      summary: 'An MCP server: NAME=URL, or "NAME=URL noauth" when it takes no token. Repeatable.',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'NAME=URL',
    }),
    'servers-file': Flags.string({summary: 'File of servers, one NAME=URL [noauth] a line, # comments.', helpValue: 'PATH'}),
    output: Flags.string({
      char: 'o',
      summary: "Write this file instead of the client's usual one (one --client only).",
      helpValue: 'PATH',
      exclusive: ['stdout'],
    }),
    stdout: Flags.boolean({
      summary: 'Print the JSON document (with the token, unless --env-ref or --helper) instead of writing it.',
      exclusive: ['json', 'output', 'forget'],
    }),
    'env-ref': Flags.boolean({summary: `Write a reference to $${TOKEN_VARIABLE} in the client's syntax instead of the token.`, exclusive: ['helper']}),
    helper: Flags.boolean({summary: 'Claude Code only: write a headersHelper that runs mcp-headers, instead of the token.'}),
    forget: Flags.boolean({summary: "Drop the record of these clients' files (all without --client) so no refresh rewrites them."}),
    registry: Flags.string({
      summary: "The MCP Gateway Registry's folder (servers/*.json): its servers, no-auth ones included, each with the token of its own login.",
      helpValue: 'DIR',
      helpGroup: 'REGISTRY',
    }),
    'tokens-dir': Flags.string({
      summary: 'Token directory whose logins (*egress.json) the registry servers use; each token file is also a server of its own. Repeatable.',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'DIR',
      helpGroup: 'REGISTRY',
    }),
    'gateway-url': Flags.string({
      summary: 'Where the registry servers are reached: <URL><path>/mcp (default REGISTRY_URL).',
      helpValue: 'URL',
      helpGroup: 'REGISTRY',
    }),
    format: Flags.option({
      summary: "registry: also write the registry's mcp.json (Roo Code, Claude Code) and vscode_mcp.json, in the first --tokens-dir (else ./.oauth-tokens).",
      options: ['registry'] as const,
      exclusive: ['stdout'],
      helpGroup: 'REGISTRY',
    })(),
  }

  async run(): Promise<McpConfigReport | ForgetReport> {
    const {flags} = this
    if (flags.forget) return this.forget()
    const settings = await this.settings()
    const tokensDirs = (flags['tokens-dir'] ?? []).map((directory) => resolve(directory))
    const registryRequest =
      flags.registry || flags.format === 'registry'
        ? {registryDir: flags.registry, tokensDirs, gatewayUrl: gatewayBaseUrl(flags['gateway-url'], settings), settings}
        : undefined
    const registry = registryRequest && flags.format === 'registry' ? await this.writeRegistryFiles(registryRequest, tokensDirs) : null
    if (registry && !flags.client) return {files: [], registry}
    const fromRegistry = flags.registry && registryRequest ? await registryServers(registryRequest) : undefined
    if (!registry) for (const warning of fromRegistry?.warnings ?? []) this.note(`Warning: ${warning}.`)
    const {servers} = await resolveMcpServers(settings, {specs: flags.server ?? [], file: flags['servers-file'], registry: fromRegistry?.servers})
    const tokenForm: TokenForm = flags.helper ? 'helper' : flags['env-ref'] ? 'env-ref' : 'literal'
    const request: McpConfigRequest = {
      clients: parseClientIds(flags.client ?? []),
      servers,
      tokenForm,
      outputPath: flags.output,
      places: {cwd: process.cwd(), home: homedir(), platform: process.platform, env: process.env},
      helperCommand:
        tokenForm === 'helper'
          ? headersHelperCommand({nodePath: process.execPath, cliPath: join(this.config.root, 'bin', 'run.js'), envFilePath: settings.envFilePath})
          : undefined,
    }
    if (flags.stdout) {
      this.log(JSON.stringify(await mcpConfigDocument(settings, request), null, 2))
      return {files: [], registry}
    }
    const files = await writeMcpConfigs(settings, request)
    if (!this.jsonEnabled()) await this.describe(files, settings.envFileExists)
    return {files, registry}
  }

  private async writeRegistryFiles(request: RegistryRequest, tokensDirs: string[]): Promise<NonNullable<McpConfigReport['registry']>> {
    const written = await syncRegistryConfigs({...request, outputDir: registryOutputDir(tokensDirs)})
    for (const warning of written.warnings) this.note(`Warning: ${warning}.`)
    this.note(`Wrote ${written.paths.join(' and ')} (mode 0600, they hold tokens): ${written.servers.join(', ') || 'no server'}.`)
    return {files: written.paths, servers: written.servers, warnings: written.warnings}
  }

  private async forget(): Promise<ForgetReport> {
    const manifestPath = clientsManifestPath(this.envFilePath())
    const ids = new Set<string>(this.flags.client ? parseClientIds(this.flags.client) : MCP_CLIENT_IDS)
    const forgotten = await forgetRecordedFiles(manifestPath, (file) => ids.has(file.client))
    this.note(
      forgotten.length === 0
        ? `Nothing recorded for those clients in ${manifestPath}.`
        : `Forgot ${forgotten.map((file) => file.path).join(', ')} (the files are left as they are).`,
    )
    return {forgotten: forgotten.map(({client, path}) => ({client, path}))}
  }

  private async describe(files: WrittenConfig[], envFileExists: boolean): Promise<void> {
    for (const file of files) {
      this.note(`${STATUS_VERB[file.status]} ${clientFormat(file.client).label} config ${file.path}: ${file.servers.join(', ')} (${TOKEN_LABEL[file.token]}).`)
    }
    const literal = files.filter((file) => file.token === 'literal')
    const shared = literal.filter((file) => clientFormat(file.client).scope === 'project').map((file) => file.path)
    if (shared.length > 0)
      this.note(
        `Warning: ${shared.join(', ')} ${shared.length === 1 ? 'holds' : 'hold'} the token: keep ${shared.length === 1 ? 'it' : 'them'} out of version control (.gitignore), or use --env-ref or --helper.`,
      )
    if (literal.length > 0) await this.describeExpiry()
    if (files.some((file) => file.token === 'env-ref')) {
      this.note(
        `The client must find ${TOKEN_VARIABLE} in its environment: start it from a shell that has it (e.g. after "set -a; . ${this.envFilePath()}; set +a").`,
      )
    }
    if (files.some((file) => file.token === 'helper') && !envFileExists)
      this.note(`Warning: ${this.envFilePath()} does not exist yet; mcp-headers reads the token from there.`)
  }

  private async describeExpiry(): Promise<void> {
    const saved = await savedMcpClientToken(await this.settings())
    if (!saved || saved.expiresAt === null) return
    if (saved.expiresAt <= Date.now() / 1000) {
      this.note(
        `Warning: the token expired at ${formatTime(saved.expiresAt)}: run mcpauth refresh-tokens (or mcp-client-token --force); recorded files are then rewritten by refresh-tokens --watch, or run mcp-config again.`,
      )
    } else {
      this.note(`The token is valid until ${formatTime(saved.expiresAt)}; refresh-tokens --watch rewrites these files after each refresh.`)
    }
  }
}
