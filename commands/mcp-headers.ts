import {Flags} from '@oclif/core'

import type {Settings} from '../src/env/settings.js'
import {durationSetting} from '../src/time.js'
import {McpAuthError, ExitCode} from '../src/errors.js'
import {TOKEN_VARIABLE, missingTokenError, rewriteRecordedConfigs, savedMcpClientToken} from '../src/mcp/config.js'
import {headersLine} from '../src/mcp/headers.js'
import {MCP_CLIENT_LOGIN} from '../src/oauth/login.js'
import {formatTime} from '../src/output.js'
import {refreshLoginIfDue} from '../src/refresh/refresh.js'
import {BaseCommand} from './_shared/base-command.js'
import {httpOptions, oauthHttpFlags} from './_shared/oauth-flags.js'

export default class McpHeaders extends BaseCommand<typeof McpHeaders> {
  // The output is always JSON for a client to read: an error must never reach stdout, not even as JSON.
  static override enableJsonFlag = false
  static override summary = 'Print {"Authorization": "Bearer <token>"} for the MCP client login, refreshing the token first when it is due'
  static override description =
    `For clients that run a command to get their headers, such as Claude Code's headersHelper (mcp-config --client claude-code --helper writes one), so that no token is stored in the client's config and it always connects with a fresh one. MCP_CLIENT_ACCESS_TOKEN is read from .env; when it expires within --buffer (default TOKEN_EXPIRY_BUFFER or 3600 s) and MCP_CLIENT_REFRESH_TOKEN is set, it is refreshed first, under the same lock as refresh-tokens, so the daemon, cron and any number of clients refresh it once; config files mcp-config wrote with the literal token are then rewritten too. If the refresh fails while the saved token is still valid, that token is printed with a warning. Printing the token on stdout is this command's purpose: one line of JSON, nothing else. Errors go to stderr only, with exit 4 (no token, expired and not refreshable, server unreachable) or 2 (bad flag).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --env-file /srv/gateway/.env',
    '<%= config.bin %> <%= command.id %> --buffer 30m',
    'curl -H "$(<%= config.bin %> <%= command.id %> | jq -r \'"Authorization: " + .Authorization\')" https://mcp-fetch.example.com/mcp',
  ]

  static override flags = {
    ...oauthHttpFlags,
    buffer: Flags.string({
      summary: 'Refresh first when the token expires within this time (default TOKEN_EXPIRY_BUFFER or 3600): 3600, 90m, 2h.',
      helpValue: 'DURATION',
    }),
  }

  async run(): Promise<void> {
    const settings = await this.settings()
    if (!settings.envFileExists) {
      throw new McpAuthError(`There is no ${settings.envFilePath}.`, {
        code: 'env_missing',
        exitCode: ExitCode.unreachable,
        hint: "Pass the gateway's .env with --env-file PATH (an absolute path, as clients run this from anywhere).",
      })
    }
    const bufferSeconds = durationSetting(this.flags.buffer, '--buffer', settings, 'TOKEN_EXPIRY_BUFFER', '3600')
    const outcome = await refreshLoginIfDue(settings, MCP_CLIENT_LOGIN, {bufferSeconds, force: false, http: httpOptions(this.flags)})
    const saved = await savedMcpClientToken(settings)
    if (!saved) throw missingTokenError(settings.envFilePath)
    const expired = saved.expiresAt !== null && saved.expiresAt <= Date.now() / 1000
    if (outcome?.status === 'failed') {
      const hint = outcome.login_command ? `Run ${outcome.login_command}` : undefined
      if (expired)
        throw new McpAuthError(`${TOKEN_VARIABLE} expired and could not be refreshed: ${outcome.reason}.`, {
          code: 'refresh_failed',
          exitCode: ExitCode.unreachable,
          hint,
        })
      this.note(`Warning: could not refresh ${TOKEN_VARIABLE} (${outcome.reason}); using the saved one, valid until ${formatTime(saved.expiresAt)}.`)
    } else if (expired) {
      throw new McpAuthError(
        `${TOKEN_VARIABLE} in ${settings.envFilePath} expired at ${formatTime(saved.expiresAt)} and there is no ${MCP_CLIENT_LOGIN.refreshToken} to refresh it.`,
        {
          code: 'token_expired',
          exitCode: ExitCode.unreachable,
          hint: `Run ${MCP_CLIENT_LOGIN.loginCommand}`,
        },
      )
    }
    if (outcome?.status === 'refreshed') await this.rewriteLiteralConfigs(settings)
    process.stdout.write(headersLine(saved.token))
  }

  /** A refresh made here is one the daemon will not see: the files holding the old token are updated now. */
  private async rewriteLiteralConfigs(settings: Settings): Promise<void> {
    for (const result of await rewriteRecordedConfigs(settings)) {
      if (result.status === 'failed') this.note(`Warning: could not put the new token into ${result.path}: ${result.reason}.`)
    }
  }
}
