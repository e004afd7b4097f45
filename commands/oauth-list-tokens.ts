import {Flags} from '@oclif/core'

import {type AccessTokenView, firstRows, listAccessTokens, soonestExpiryFirst} from '../src/store/list.js'
import {formatRelative, formatTime, isoTime, renderTable} from '../src/output.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'

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
    limit: Flags.integer({summary: 'Rows shown in the table: the soonest to expire (0 = all). --json always lists all.', default: 200, min: 0}),
  }

  async run(): Promise<void> {
    const store = await this.tokenStore()
    const filter = {username: this.flags.user, clientId: this.flags.client, expiredOnly: this.flags.expired}
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
    this.renderTable(shown, total, malformed)
  }

  private renderTable(shown: AccessTokenView[], total: number, malformed: number): void {
    if (total === 0) {
      this.note('No access tokens match.')
      return
    }
    const now = Date.now() / 1000
    const rows = shown.map((token) =>
      token.problem
        ? [token.jti, `malformed: ${token.problem}`, '', '', '', '']
        : [
            token.jti,
            token.username ?? '-',
            token.client_name ? `${token.client_name}\n${token.client_id}` : (token.client_id ?? '-'),
            token.scope ?? '-',
            formatTime(token.created_at),
            `${formatTime(token.expires_at)}\n${token.expired ? 'EXPIRED ' : ''}${formatRelative(token.expires_at, now)}`,
          ],
    )
    this.log(renderTable(['jti', 'user', 'client', 'scope', 'issued', 'expires'], rows))
    const more = shown.length < total ? ` (${shown.length} shown; --limit 0 shows all)` : ''
    this.note(`${total} token${total === 1 ? '' : 's'}${more}${malformed ? `, ${malformed} malformed` : ''}.`)
  }
}

function toJsonRow(token: AccessTokenView) {
  return {...token, created_at: isoTime(token.created_at), expires_at: isoTime(token.expires_at)}
}
