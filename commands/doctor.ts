import {Flags} from '@oclif/core'

import {type CheckStatus, type DoctorReport, runDoctor} from '../src/doctor.js'
import {parseDuration} from '../src/time.js'
import {readEnvFile} from '../src/env/env-file.js'
import {MESSAGE_LIMIT, safeForTerminal} from '../src/output.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {httpOptions, oauthHttpFlags} from './_shared/oauth-flags.js'

const STATUS_COLORS: Record<CheckStatus, string> = {ok: '\u001B[32m', warn: '\u001B[33m', fail: '\u001B[31m'}

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = "Check that this gateway's token set-up is healthy"
  static override description =
    `One line per check, ok / warn / fail: the .env file (found, readable, mode 0600), every variable the gateway requires (present and not a placeholder; OAUTH_* names understood, conflicts reported), the lifetimes, the signing key (RS256 key valid and at least 2048 bits, or the HS256 secret), Redis reachable with the configured credentials, and the tokens in .env (valid, and not expiring within --within). --online also fetches the gateway's metadata and /jwks and checks that it serves the key in .env. Exit 0 when nothing failed, 3 when a setting or token is wrong, 4 when .env, Redis or the gateway cannot be reached.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --online',
    '<%= config.bin %> <%= command.id %> --env-file /opt/gateway/.env --json | jq \'.checks[] | select(.status != "ok")\'',
  ]

  static override flags = {
    ...redisFlags,
    ...oauthHttpFlags,
    online: Flags.boolean({summary: "Also check the gateway's metadata and /jwks over the network."}),
    within: Flags.string({summary: 'Warn about tokens that expire within this time (e.g. 1h, 30m, 3600).', default: '1h'}),
  }

  async run(): Promise<DoctorReport> {
    // One read of .env for the settings and the file checks alike.
    const settings = await this.settings()
    const report = await runDoctor({
      envFile: settings.envFile ?? (await readEnvFile(this.envFilePath())),
      settings,
      tokenStore: () => this.tokenStore(),
      online: this.flags.online,
      http: httpOptions(this.flags),
      expiryWarningSeconds: parseDuration(this.flags.within, '--within'),
    })
    this.render(report)
    process.exitCode = report.exit_code
    return report
  }

  private render(report: DoctorReport): void {
    const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR
    const width = Math.max(...report.checks.map((check) => check.check.length))
    for (const check of report.checks) {
      const status = check.status.padEnd(4)
      const label = color ? `${STATUS_COLORS[check.status]}${status}\u001B[0m` : status
      // Details quote Redis and OAuth servers' answers: escaped like every untrusted text.
      this.log(`${label}  ${check.check.padEnd(width)}  ${safeForTerminal(check.detail, {limit: MESSAGE_LIMIT})}`)
      if (check.hint && check.status !== 'ok') this.log(`${' '.repeat(6 + width)}  → ${safeForTerminal(check.hint, {limit: MESSAGE_LIMIT})}`)
    }
    const {ok, warn, fail} = report.summary
    this.log(`\n${ok} ok, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed${fail === 0 ? ': healthy.' : '.'}`)
  }
}
