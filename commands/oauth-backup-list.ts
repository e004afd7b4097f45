import {Flags} from '@oclif/core'

import {PASSPHRASE_ENV, backupPassphrase} from '../src/backup/crypto.js'
import {type BackupListing, listBackups} from '../src/backup/catalog.js'
import {LEGACY_FORMAT} from '../src/backup/format.js'
import {formatTime} from '../src/output.js'
import {renderTable} from '../src/table.js'
import {BaseCommand} from './_shared/base-command.js'
import {formatBytes} from './_shared/backup-summaries.js'

export default class OauthBackupList extends BaseCommand<typeof OauthBackupList> {
  static override summary = 'List the backups in a directory: date, record counts, size, format, and whether each is complete'
  static override description =
    `Reads every oauth-backup-* file in --dir end to end and verifies it as a restore would (checksum, counts, trailer), so "complete" means it can be restored. Never connects to Redis. Encrypted backups are checked when ${PASSPHRASE_ENV} is set; without it they are listed as "locked" with what can be known without the passphrase.`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --dir /var/backups/mcpauth --json']

  static override flags = {
    dir: Flags.string({summary: 'Directory holding the backups.', default: 'backups', helpValue: 'DIR'}),
  }

  async run(): Promise<BackupListing[]> {
    const listings = await listBackups(this.flags.dir, backupPassphrase())
    if (listings.length === 0) {
      this.note(`No backups in ${this.flags.dir}.`)
      return listings
    }
    const count = (value: number | undefined | null): string => (value === null || value === undefined ? '-' : String(value))
    const yesNo = (value: boolean | null): string => (value === null ? '?' : value ? 'yes' : 'no')
    this.log(
      renderTable(
        ['file', 'created', 'records', 'clients', 'tokens', 'refresh', 'size', 'format', 'gzip', 'encrypted', 'status'],
        listings.map((listing) => [
          listing.file,
          formatTime(Date.parse(listing.created_at) / 1000),
          count(listing.records),
          count(listing.kinds?.client),
          count(listing.kinds?.token),
          count(listing.kinds?.refresh),
          formatBytes(listing.size_bytes),
          listing.format === null ? '?' : listing.format === LEGACY_FORMAT ? 'gateway JSON' : 'mcpauth v1',
          yesNo(listing.gzip),
          yesNo(listing.encrypted),
          listing.status,
        ]),
      ),
    )
    for (const listing of listings) if (listing.problem) this.note(`${listing.file} ${listing.problem}`)
    return listings
  }
}
