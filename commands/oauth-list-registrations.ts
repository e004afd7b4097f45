import {Flags} from '@oclif/core'

import {type ClientView, firstRows, listClients, oldestRegistrationFirst} from '../src/store/list.js'
import {formatCount, formatDuration, formatTime, isoTime, redact} from '../src/output.js'
import {type Cell, TableWriter, streamRows} from '../src/table.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {plural} from './_shared/summaries.js'

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
    limit: Flags.integer({
      summary: 'Rows shown in the table: the oldest registrations (0 = all, streamed in the order Redis returns them). --json always lists all.',
      default: 200,
      min: 0,
    }),
  }

  async run(): Promise<void> {
    const store = await this.tokenStore()
    if (!this.jsonEnabled() && this.flags.limit === 0) {
      // Every client, in the order Redis hands them out: rows stream as they come, so memory stays flat at any size.
      const {total} = await streamRows(listClients(store), new TableWriter(CLIENT_COLUMNS), (client) => this.clientRow(client))
      this.summarize(total, total)
      return
    }
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
    await this.renderTable(shown, total)
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

  private async renderTable(shown: ClientView[], total: number): Promise<void> {
    if (total > 0) {
      const table = new TableWriter(CLIENT_COLUMNS)
      for (let start = 0; start < shown.length; start += TABLE_CHUNK) {
        await table.write(shown.slice(start, start + TABLE_CHUNK).map((client) => this.clientRow(client)))
      }
      await table.end()
    }
    this.summarize(total, shown.length)
  }

  private summarize(total: number, shown: number): void {
    if (total === 0) {
      this.note('No client registrations.')
      return
    }
    const more = shown < total ? ` (${formatCount(shown)} shown; --limit 0 shows all)` : ''
    this.note(`${plural(total, 'client')}${more}.`)
  }

  private clientRow(client: ClientView): Cell[] {
    if (client.problem) return [client.client_id, `malformed: ${client.problem}`, '', '', '', '']
    return [
      client.client_id,
      client.client_name ?? '-',
      client.redirect_uris.length > 0 ? client.redirect_uris.slice(0, MAX_URIS_SHOWN) : '-',
      formatTime(client.created_at),
      client.ttl_seconds === null ? 'never' : `in ${formatDuration(client.ttl_seconds)}`,
      this.flags.reveal ? (client.client_secret ?? '-') : (redact(client.client_secret) ?? '-'),
    ]
  }
}

const CLIENT_COLUMNS = ['client_id', 'name', 'redirect URIs', 'registered', 'record expires', 'secret']
/** Rows handed to the table at a time: output starts at once and memory stays flat. */
const TABLE_CHUNK = 1000
/** A client may list any number of redirect URIs; a table row shows the first few (--json has all). */
const MAX_URIS_SHOWN = 5
