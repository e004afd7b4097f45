import {Flags} from '@oclif/core'

import {parseDuration} from '../src/time.js'
import {McpAuthError, ExitCode} from '../src/errors.js'
import {formatDuration, formatRelative, formatTime, isoTime} from '../src/output.js'
import {renderTable} from '../src/table.js'
import {type TokenExpiry, findTokenExpiries, needsAttention} from '../src/jwt/expiry.js'
import {BaseCommand} from './_shared/base-command.js'
import {plural} from './_shared/summaries.js'

export interface ExpiryReport {
  env_file: string
  within_seconds: number
  checked_at: string
  ok: boolean
  tokens: Array<Omit<TokenExpiry, 'issued_at' | 'expires_at'> & {issued_at: string | null; expires_at: string | null}>
}

const STATUS_LABEL: Record<TokenExpiry['status'], string> = {
  ok: 'ok',
  expiring: 'EXPIRES SOON',
  expired: 'EXPIRED',
  no_expiry: 'no exp claim',
  unreadable: 'UNREADABLE',
}

export default class CheckTokenExpiry extends BaseCommand<typeof CheckTokenExpiry> {
  static override summary = 'Show when the tokens in .env and the environment expire; exit 3 when one has expired or expires soon'
  static override description =
    `Looks at every value in the .env file, and every variable of the environment named like a token (…_ACCESS_TOKEN, …_REFRESH_TOKEN, GITHUB_PAT and their …_EXPIRES_AT), the environment winning as for any setting (the same tokens validate-tokens reads), that is a JWT (three base64url segments whose header is JSON with an "alg"; secrets such as GATEWAY_JWT_SECRET never are) and at opaque tokens whose expiry is stored beside them as <NAME>_EXPIRES_AT (epoch seconds), e.g. GITHUB_PAT_EXPIRES_AT. For each: issued, expires, time left. Tokens are never printed. Exit 3 when one has expired, expires within --within, or cannot be read. Nothing is verified here (see validate-tokens) and nothing is changed.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --within 2h',
    '<%= config.bin %> <%= command.id %> --within 1d --env-file /srv/gateway/.env',
    '<%= config.bin %> <%= command.id %> --json | jq -r \'.tokens[] | select(.status != "ok") | .name\'',
  ]

  static override flags = {
    within: Flags.string({
      summary: 'Fail for tokens that expire within this time: 3600, 90m, 2h, 1d.',
      default: '1h',
      helpValue: 'DURATION',
    }),
  }

  async run(): Promise<ExpiryReport> {
    const withinSeconds = parseDuration(this.flags.within, '--within')
    const settings = await this.settings()
    if (!settings.envFileExists && !settings.hasTokensInEnvironment()) {
      throw new McpAuthError(`There is no ${settings.envFilePath} to check.`, {
        code: 'env_missing',
        exitCode: ExitCode.unreachable,
        hint: "Run it where the gateway's .env is, or pass --env-file PATH.",
      })
    }
    const now = Date.now() / 1000
    // The environment and .env, the environment first: the tokens validate-tokens and every other command would use.
    const tokens = findTokenExpiries(settings.tokenValues(), {withinSeconds, now})
    const failing = tokens.filter(needsAttention)
    if (!this.jsonEnabled()) this.render(settings.envFilePath, tokens, failing.length, withinSeconds, now)
    // A check that found a problem still prints its report: the exit code carries the verdict.
    if (failing.length > 0) process.exitCode = ExitCode.invalidTokens
    return {
      env_file: settings.envFilePath,
      within_seconds: withinSeconds,
      checked_at: isoTime(now)!,
      ok: failing.length === 0,
      tokens: tokens.map((token) => ({...token, issued_at: isoTime(token.issued_at), expires_at: isoTime(token.expires_at)})),
    }
  }

  private render(envFilePath: string, tokens: TokenExpiry[], failing: number, withinSeconds: number, now: number): void {
    if (tokens.length === 0) {
      this.note(`No tokens in ${envFilePath} or the environment: no value is a JWT, and no token has a <NAME>_EXPIRES_AT.`)
      return
    }
    const rows = tokens.map((token) => [
      token.name,
      formatTime(token.issued_at),
      formatTime(token.expires_at),
      token.seconds_left === null ? '-' : token.seconds_left > 0 ? formatDuration(token.seconds_left) : formatRelative(token.expires_at, now),
      token.problem && token.status === 'unreadable' ? `${STATUS_LABEL[token.status]}: ${token.problem}` : STATUS_LABEL[token.status],
    ])
    this.log(renderTable(['token', 'issued', 'expires', 'time left', 'status'], rows))
    const expired = tokens.filter((token) => token.status === 'expired').length
    const expiring = tokens.filter((token) => token.status === 'expiring').length
    this.note(
      `${plural(tokens.length, 'token')}: ${expired} expired, ${expiring} expiring within ${formatDuration(withinSeconds)}` +
        `${failing > expired + expiring ? `, ${failing - expired - expiring} unreadable` : ''}.`,
    )
  }
}
