import {Flags} from '@oclif/core'

import {type ClientView, firstRows, listClients, oldestRegistrationFirst} from '../src/store/list.js'
import {formatDuration, formatTime, isoTime, redact, renderTable} from '../src/output.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'

export default class OauthListRegistrations extends BaseCommand<typeof OauthListRegistrations> {
  static override summary = 'List the OAuth clients registered with the gateway'
  static override description =
    `Reads every oauth:client:{client_id} record with SCAN. Client secrets and registration tokens are redacted unless --reveal is given. With --json it streams a JSON array, one object per client.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    "<%= config.bin %> <%= command.id %> --json | jq -r '.[].client_id'",
    '<%= config.bin %> <%= command.id %> --json --reveal > clients-with-secrets.json',
  ]

  static override flags = {
    ...redisFlags,
    reveal: Flags.boolean({summary: 'Show client secrets and registration tokens in full.'}),
    limit: Flags.integer({summary: 'Rows shown in the table: the oldest registrations (0 = all). --json always lists all.', default: 200, min: 0}),
  }

  async run(): Promise<void> {
    const store = await this.tokenStore()
    const progress = await this.progress('Scanning clients')
    const batches = listClients(store, {onProgress: (seen) => progress.update(seen)})
    if (this.jsonEnabled()) {
      const writer = this.jsonArrayWriter()
      for await (const batch of batches) await writer.write(batch.map((client) => this.toJsonRow(client)))
      progress.done()
      await writer.end()
      return
    }
    const {shown, total} = await firstRows(batches, this.flags.limit, oldestRegistrationFirst)
    progress.done()
    this.renderTable(shown, total)
  }

  private toJsonRow(client: ClientView) {
    return {
      ...client,
      client_secret: this.flags.reveal ? client.client_secret : redact(client.client_secret),
      registration_access_token: this.flags.reveal ? client.registration_access_token : redact(client.registration_access_token),
      created_at: isoTime(client.created_at),
      client_secret_expires_at: isoTime(client.client_secret_expires_at),
    }
  }

  private renderTable(shown: ClientView[], total: number): void {
    if (total === 0) {
      this.note('No client registrations.')
      return
    }
    const rows = shown.map((client) =>
      client.problem
        ? [client.client_id, `malformed: ${client.problem}`, '', '', '', '']
        : [
            client.client_id,
            client.client_name ?? '-',
            client.redirect_uris.join('\n') || '-',
            formatTime(client.created_at),
            client.ttl_seconds === null ? 'never' : `in ${formatDuration(client.ttl_seconds)}`,
            this.flags.reveal ? (client.client_secret ?? '-') : (redact(client.client_secret) ?? '-'),
          ],
    )
    this.log(renderTable(['client_id', 'name', 'redirect URIs', 'registered', 'record expires', 'secret'], rows))
    const more = shown.length < total ? ` (${shown.length} shown; --limit 0 shows all)` : ''
    this.note(`${total} client${total === 1 ? '' : 's'}${more}.`)
  }
}
