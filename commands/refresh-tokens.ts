import {Flags} from '@oclif/core'
import {resolve} from 'node:path'

import type {Settings} from '../src/env/settings.js'
import {LOG_LEVELS, openDaemonLog} from '../src/refresh/daemon-log.js'
import {durationSetting} from '../src/time.js'
import {McpAuthError, ExitCode, usageError} from '../src/errors.js'
import {MESSAGE_LIMIT, formatDuration, formatTime, isoTime, safeForTerminal} from '../src/output.js'
import {renderTable} from '../src/table.js'
import {claimPidFile, defaultPidFilePath} from '../src/refresh/pid-file.js'
import {type DaemonSummary, type RegistryOutput, handleDaemonSignals, runRefreshDaemon} from '../src/refresh/daemon.js'
import {findLogins} from '../src/logins/all-logins.js'
import {gatewayBaseUrl} from '../src/mcp/registry.js'
import {registryOutputDir, syncRegistryConfigs} from '../src/mcp/registry-files.js'
import {NO_REFRESHABLE_TOKEN, type RefreshOutcome, type RefreshStatus, needsAttention, refreshLogins} from '../src/refresh/refresh.js'
import {BaseCommand} from './_shared/base-command.js'
import {httpOptions, oauthHttpFlags} from './_shared/oauth-flags.js'

export interface RefreshReport {
  env_file: string
  tokens_dirs: string[]
  buffer_seconds: number
  refreshed: number
  failed: number
  /** Logins that cannot be refreshed until something is added (reason says what). */
  incomplete: number
  /** With --registry: the registry's client configs written after the refresh. */
  registry: {files: string[]; servers: string[]; warnings: string[]} | null
  tokens: Array<Omit<RefreshOutcome, 'expires_at'> & {expires_at: string | null}>
}

const STATUS_LABEL: Record<RefreshStatus, string> = {
  refreshed: 'refreshed',
  refreshed_elsewhere: 'refreshed by another mcpauth',
  still_valid: 'still valid',
  unknown_expiry: 'expiry unknown (not refreshed)',
  incomplete: 'cannot be refreshed (see below)',
  failed: 'FAILED',
}

export default class RefreshTokens extends BaseCommand<typeof RefreshTokens> {
  static override summary = 'Refresh every login that expires within --buffer (.env and token files), one refresh per login even when several runs race'
  static override description =
    `Looks at every login that has a refresh token: in .env the gateway's (GATEWAY_OAUTH_ACCESS_TOKEN with GATEWAY_OAUTH_REFRESH_TOKEN), the MCP client's (MCP_CLIENT_ACCESS_TOKEN with MCP_CLIENT_REFRESH_TOKEN), an expiring GitHub App token (GITHUB_PAT with GITHUB_REFRESH_TOKEN) and the named logins mcp-client-token --name made (NAME_ACCESS_TOKEN with NAME_REFRESH_TOKEN); with --tokens-dir DIR (repeatable) also every token file DIR/*egress.json, the registry's egress format. A token is due when its JWT exp, or the expiry saved beside it, is within --buffer (default TOKEN_EXPIRY_BUFFER or 3600 s); --force refreshes all of them. Logins are refreshed four at a time. The new access token, and the new refresh token when the server rotates it, are written together in one atomic update; a server that sends no refresh token (Google; the gateway sends null) leaves the saved one in place, and one that sends no expires_in leaves the JWT's exp, else an unknown expiry. Each login has a lock of its own, held across its exchange, so parallel runs (cron and a daemon, say) never spend a single-use refresh token twice: a run that waited finds the token refreshed and uses it. The .env itself is locked only for the final write, so a slow provider holds up no other command. The resource of an MCP login is sent again (RFC 8707). A token file that lacks what a refresh needs (client, token endpoint) is named with what to add. Token values are never printed. Exit 4 when a refresh failed (invalid_grant: a new login is needed, the command is shown; that login is left as it was and the others are refreshed), or when a login that cannot be refreshed expires within --buffer.

--watch runs as a daemon: a check every --interval (default TOKEN_REFRESH_INTERVAL or 300 s), one log line per check and per refresh (never a token), retries with backoff when a server cannot be reached, and after each check rewrites the client configs mcp-config recorded with a literal token (each with its own login's token) and, with --registry, the registry's mcp.json and vscode_mcp.json. One daemon per .env: its PID file refuses a second (exit 4) and is taken over when its process is gone. SIGTERM or Ctrl-C finishes the refresh under way, then exits 0.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --buffer 2h',
    '<%= config.bin %> <%= command.id %> --force --json',
    '<%= config.bin %> <%= command.id %> --tokens-dir .oauth-tokens',
    '*/5 * * * * cd /srv/gateway && mcpauth refresh-tokens --buffer 30m >> refresh.log 2>&1',
    '<%= config.bin %> <%= command.id %> --watch',
    '<%= config.bin %> <%= command.id %> --watch --interval 1m --buffer 30m --log-file /var/log/mcpauth/refresh.log',
  ]

  static override flags = {
    ...oauthHttpFlags,
    'tokens-dir': Flags.string({
      summary: "Also refresh the logins kept as token files (*egress.json) in this directory, e.g. the registry's .oauth-tokens. Repeatable.",
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'DIR',
    }),
    registry: Flags.string({
      summary:
        "After refreshing, write the MCP Gateway Registry's mcp.json and vscode_mcp.json (in the first --tokens-dir) for its servers (servers/*.json in DIR), each with its own login's token.",
      helpValue: 'DIR',
      helpGroup: 'REGISTRY',
    }),
    'gateway-url': Flags.string({
      summary: 'With --registry: where the servers are reached, <URL><path>/mcp (default REGISTRY_URL).',
      helpValue: 'URL',
      dependsOn: ['registry'],
      helpGroup: 'REGISTRY',
    }),
    buffer: Flags.string({summary: 'Refresh tokens that expire within this time (default TOKEN_EXPIRY_BUFFER or 3600): 3600, 90m, 2h.', helpValue: 'DURATION'}),
    force: Flags.boolean({summary: 'Refresh every refreshable token, due or not.', exclusive: ['watch']}),
    watch: Flags.boolean({summary: 'Keep running: check every --interval until SIGTERM or Ctrl-C.', helpGroup: 'DAEMON'}),
    interval: Flags.string({
      summary: 'With --watch, time between checks (default TOKEN_REFRESH_INTERVAL or 300): 300, 5m.',
      helpValue: 'DURATION',
      dependsOn: ['watch'],
      helpGroup: 'DAEMON',
    }),
    'log-level': Flags.option({
      summary: 'With --watch, the least important lines to log.',
      options: LOG_LEVELS,
      default: 'info' as const,
      helpGroup: 'DAEMON',
    })(),
    'log-file': Flags.string({
      summary: 'With --watch, append the log here (created 0600) instead of stderr; SIGHUP reopens it.',
      helpValue: 'PATH',
      dependsOn: ['watch'],
      helpGroup: 'DAEMON',
    }),
    'pid-file': Flags.string({
      summary: 'With --watch, where the daemon writes its PID (default: the .env path + ".refresh.pid").',
      helpValue: 'PATH',
      dependsOn: ['watch'],
      helpGroup: 'DAEMON',
    }),
  }

  async run(): Promise<RefreshReport | DaemonSummary> {
    const settings = await this.settings()
    const tokensDirs = (this.flags['tokens-dir'] ?? []).map((directory) => resolve(directory))
    if (!settings.envFileExists && tokensDirs.length === 0) {
      throw new McpAuthError(`There is no ${settings.envFilePath}: nothing to refresh.`, {
        code: 'env_missing',
        exitCode: ExitCode.unreachable,
        hint: "Run it where the gateway's .env is, or pass --env-file PATH (or --tokens-dir DIR for token files).",
      })
    }
    const bufferSeconds = durationSetting(this.flags.buffer, '--buffer', settings, 'TOKEN_EXPIRY_BUFFER', '3600')
    const registry = this.flags.registry
      ? {registryDir: this.flags.registry, gatewayUrl: gatewayBaseUrl(this.flags['gateway-url'], settings), outputDir: registryOutputDir(tokensDirs)}
      : undefined
    if (this.flags.watch) return this.watch(settings, bufferSeconds, tokensDirs, registry)
    const logins = await findLogins(settings, tokensDirs)
    const outcomes = await refreshLogins(logins, {
      bufferSeconds,
      force: this.flags.force,
      http: httpOptions(this.flags),
      onWait: (login) => this.note(`Another mcpauth is refreshing ${login.name}; waiting for it to finish.`),
    })
    if (!this.jsonEnabled()) this.render(settings.envFilePath, outcomes)
    if (outcomes.some((outcome) => needsAttention(outcome, bufferSeconds))) process.exitCode = ExitCode.unreachable
    const configs = registry && (await syncRegistryConfigs({...registry, tokensDirs, settings}))
    for (const warning of configs?.warnings ?? []) this.note(`Warning: ${warning}.`)
    if (configs) this.note(`Wrote ${configs.paths.join(' and ')}: ${configs.servers.join(', ') || 'no server'}.`)
    const count = (status: RefreshStatus) => outcomes.filter((outcome) => outcome.status === status).length
    return {
      env_file: settings.envFilePath,
      tokens_dirs: tokensDirs,
      buffer_seconds: bufferSeconds,
      refreshed: count('refreshed'),
      failed: count('failed'),
      incomplete: count('incomplete'),
      registry: configs ? {files: configs.paths, servers: configs.servers, warnings: configs.warnings} : null,
      tokens: outcomes.map((outcome) => ({...outcome, expires_at: isoTime(outcome.expires_at)})),
    }
  }

  private async watch(settings: Settings, bufferSeconds: number, tokensDirs: string[], registry: RegistryOutput | undefined): Promise<DaemonSummary> {
    const intervalSeconds = durationSetting(this.flags.interval, '--interval', settings, 'TOKEN_REFRESH_INTERVAL', '300')
    if (intervalSeconds < 1) throw usageError('--interval must be at least 1s.')
    const log = openDaemonLog({level: this.flags['log-level'], file: this.flags['log-file'], json: this.jsonEnabled()})
    const pidFile = await claimPidFile(this.flags['pid-file'] ?? defaultPidFilePath(settings.envFilePath), this.id!).catch((error) => {
      log.close()
      throw error
    })
    const signals = handleDaemonSignals(log, pidFile, this.flags['log-file'])
    const envFilePath = resolve(settings.envFilePath)
    try {
      if (pidFile.tookOverFrom !== null) log.warn(`took over ${pidFile.path} from PID ${pidFile.tookOverFrom}, which is no longer running`)
      const where = [envFilePath, ...tokensDirs].join(', ')
      log.info(
        `started: PID ${process.pid}, ${where}, every ${formatDuration(intervalSeconds)}, refreshing what expires within ${formatDuration(bufferSeconds)}`,
      )
      const summary = await runRefreshDaemon({
        envFilePath,
        tokensDirs,
        registry,
        intervalSeconds,
        bufferSeconds,
        http: httpOptions(this.flags),
        log,
        stop: signals.stop,
      })
      log.info(`stopped (${summary.stopped_by}) after ${summary.checks} checks, ${summary.refreshed} refreshes, ${summary.failed} failures`)
      return summary
    } finally {
      signals.dispose()
      await pidFile.release()
      log.close()
    }
  }

  private render(envFilePath: string, outcomes: RefreshOutcome[]): void {
    if (outcomes.length === 0) {
      this.note(`${envFilePath}: ${NO_REFRESHABLE_TOKEN}.`)
      return
    }
    this.log(
      renderTable(
        ['token', 'status', 'expires'],
        outcomes.map((outcome) => [outcome.name, STATUS_LABEL[outcome.status], formatTime(outcome.expires_at)]),
      ),
    )
    for (const outcome of outcomes.filter((candidate) => candidate.status === 'failed' || candidate.status === 'incomplete')) {
      const label = outcome.status === 'failed' ? 'Error' : 'Warning'
      this.note(
        `${label}: ${outcome.name}: ${safeForTerminal(outcome.reason, {limit: MESSAGE_LIMIT})}.${outcome.login_command ? `\nHint: run ${outcome.login_command}` : ''}`,
      )
    }
  }
}
