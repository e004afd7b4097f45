import {Flags} from '@oclif/core'

import {type AccessTokenView, firstRows, listAccessTokens, soonestExpiryFirst} from '../src/store/list.js'
import {formatCount, formatRelative, formatTime, isoTime} from '../src/output.js'
import {type Cell, TableWriter, streamRows} from '../src/table.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {plural} from './_shared/summaries.js'

export default class OauthListTokens extends BaseCommand<typeof OauthListTokens> {
  static override summary = 'List the access tokens the gateway keeps in Redis'
  static override description =
    `Reads every oauth:token:{jti} record with SCAN, resolves client names, and shows a table on a terminal. With --json it streams a JSON array (one object per token) that scripts can rely on; malformed records appear with a "problem" field.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --user alice',
    '<%= config.bin %> <%= command.id %> --client client_AbCdEfGhIjKlMnOpQrStUv --expired',
    "<%= config.bin %> <%= command.id %> --json | jq -r '.[] | select(.expired) | .jti'",
  ]

  static override flags = {
    ...redisFlags,
    user: Flags.string({summary: 'Only tokens of this GitHub username (exact).'}),
    client: Flags.string({summary: 'Only tokens issued to this client_id (exact).'}),
    expired: Flags.boolean({summary: 'Only tokens past their expires_at.'}),
    limit: Flags.integer({
      summary: 'Rows shown in the table: the soonest to expire (0 = all, streamed in the order Redis returns them). --json always lists all.',
      default: 200,
      min: 0,
    }),
  }

  async run(): Promise<void> {
    const store = await this.tokenStore()
    const filter = {username: this.flags.user, clientId: this.flags.client, expiredOnly: this.flags.expired}
    if (!this.jsonEnabled() && this.flags.limit === 0) {
      // Every token, in the order Redis hands them out: rows stream as they come, so memory stays flat at any size.
      const now = Date.now() / 1000
      const {total, malformed} = await streamRows(listAccessTokens(store, filter), new TableWriter(TOKEN_COLUMNS), (token) => tokenRow(token, now))
      this.summarize(total, total, malformed)
      return
    }
    const progress = await this.progress('Scanning tokens')
    const batches = listAccessTokens(store, filter, {onProgress: (seen) => progress.update(seen)})
    if (this.jsonEnabled()) {
      const writer = this.jsonArrayWriter()
      for await (const batch of batches) await writer.write(batch.map(toJsonRow))
      progress.done()
      await writer.end()
      return
    }
    const {shown, total, malformed} = await firstRows(batches, this.flags.limit, soonestExpiryFirst)
    progress.done()
    await this.renderTable(shown, total, malformed)
  }

  private async renderTable(shown: AccessTokenView[], total: number, malformed: number): Promise<void> {
    if (total > 0) {
      const now = Date.now() / 1000
      const table = new TableWriter(TOKEN_COLUMNS)
      for (let start = 0; start < shown.length; start += TABLE_CHUNK) {
        await table.write(shown.slice(start, start + TABLE_CHUNK).map((token) => tokenRow(token, now)))
      }
      await table.end()
    }
    this.summarize(total, shown.length, malformed)
  }

  private summarize(total: number, shown: number, malformed: number): void {
    if (total === 0) {
      this.note('No access tokens match.')
      return
    }
    const more = shown < total ? ` (${formatCount(shown)} shown; --limit 0 shows all)` : ''
    this.note(`${plural(total, 'token')}${more}${malformed ? `, ${formatCount(malformed)} malformed` : ''}.`)
  }
}

const TOKEN_COLUMNS = ['jti', 'user', 'client', 'scope', 'issued', 'expires']
/** Rows handed to the table at a time: output starts at once and memory stays flat. */
const TABLE_CHUNK = 1000

function tokenRow(token: AccessTokenView, now: number): Cell[] {
  if (token.problem) return [token.jti, `malformed: ${token.problem}`, '', '', '', '']
  return [
    token.jti,
    token.username ?? '-',
    token.client_name ? [token.client_name, token.client_id ?? '-'] : (token.client_id ?? '-'),
    token.scope ?? '-',
    formatTime(token.created_at),
    [formatTime(token.expires_at), `${token.expired ? 'EXPIRED ' : ''}${formatRelative(token.expires_at, now)}`],
  ]
}

function toJsonRow(token: AccessTokenView) {
  return {...token, created_at: isoTime(token.created_at), expires_at: isoTime(token.expires_at)}
}
