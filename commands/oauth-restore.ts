import {Args, Flags} from '@oclif/core'

import {PASSPHRASE_ENV, backupPassphrase} from '../src/backup/crypto.js'
import {latestBackup} from '../src/backup/catalog.js'
import {type VerifiedBackup, openBackup} from '../src/backup/reader.js'
import {usageError} from '../src/errors.js'
import {Progress, formatCount, formatTime} from '../src/output.js'
import {type RedisClient, describeRedisTarget} from '../src/redis/client.js'
import {namespaceSize} from '../src/redis/namespace-size.js'
import {KEY_NAMESPACE} from '../src/store/records.js'
import {type RestoreMode, type RestoreResult, restoreBackup} from '../src/backup/restore.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {describeKinds} from './_shared/backup-summaries.js'
import {withInterrupt} from './_shared/interrupt.js'

export default class OauthRestore extends BaseCommand<typeof OauthRestore> {
  static override summary = 'Restore oauth:* records from a backup: verified first, no lifetime extended'
  static override description =
    `Reads the whole backup first (checksum, counts, trailer, every record under oauth:, known types) and writes nothing unless all of it is intact. Then restores in pipelined batches; each key is written atomically with what is left of its original lifetime (its absolute expiry minus now), and records already expired are skipped and counted.

Modes: merge (default) keeps keys that already exist; --overwrite replaces them; --clear deletes every oauth:* key first. --overwrite and --clear ask for confirmation (--yes when not on a terminal); a merge only adds missing keys and does not ask. An interrupted restore leaves only complete keys: run the same command again to finish.

Reads mcpauth backups (plain, --gzip, --encrypt: the passphrase comes from ${PASSPHRASE_ENV}) and the gateway's older JSON backups, whose TTLs are counted from the timestamp in the file.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --latest --dry-run',
    '<%= config.bin %> <%= command.id %> backups/oauth-backup-20261123-091500.jsonl.gz',
    '<%= config.bin %> <%= command.id %> backups/oauth-backup-20250620-103000.json --overwrite --yes',
    '<%= config.bin %> <%= command.id %> --latest --clear --yes --json',
  ]

  static override args = {
    file: Args.string({description: 'backup file to restore (or use --latest)'}),
  }

  static override flags = {
    ...redisFlags,
    ...confirmFlags,
    latest: Flags.boolean({summary: 'Restore the newest backup in --dir.'}),
    dir: Flags.string({summary: 'Where --latest looks.', default: 'backups', helpValue: 'DIR'}),
    overwrite: Flags.boolean({summary: 'Replace keys that already exist (default: keep them).', exclusive: ['clear']}),
    clear: Flags.boolean({summary: 'Delete every oauth:* key first, then restore.'}),
    'dry-run': Flags.boolean({summary: 'Verify the file and report what would be written, kept, replaced and skipped; change nothing.'}),
  }

  async run(): Promise<RestoreResult> {
    const file = await this.backupFile()
    const dryRun = this.flags['dry-run']
    const mode: RestoreMode = this.flags.clear ? 'clear' : this.flags.overwrite ? 'overwrite' : 'merge'
    return withInterrupt(async (signal) => {
      const verifying = new Progress('Verifying')
      const backup = await openBackup(file, {passphrase: backupPassphrase(), signal, onProgress: (read) => verifying.update(read)})
      verifying.done()
      this.noteBackup(backup)
      const {redis} = await this.tokenStore()
      if (!dryRun && mode !== 'merge' && !this.flags.yes) await this.confirm(await this.question(mode, backup, redis))
      const restoring = new Progress(dryRun ? 'Checking' : 'Restoring')
      restoring.setTotal(backup.info.counts.records)
      const result = await restoreBackup(redis, backup, {mode, dryRun, signal, onProgress: (done) => restoring.update(done)})
      restoring.done()
      this.report(result)
      return result
    })
  }

  private async backupFile(): Promise<string> {
    const {file} = this.args
    if (file && this.flags.latest) throw usageError('Give a backup file or --latest, not both.')
    if (file) return file
    if (this.flags.latest) return latestBackup(this.flags.dir)
    throw usageError('Name the backup file to restore, or pass --latest.', 'oauth-backup-list shows the backups.')
  }

  private async question(mode: RestoreMode, backup: VerifiedBackup, redis: RedisClient): Promise<string> {
    const target = describeRedisTarget(await this.redisTarget())
    const records = `${backup.info.counts.records.toLocaleString('en-US')} records from ${backup.info.file}`
    if (mode === 'overwrite') return `Restore ${records} into ${target}, replacing keys that already exist?`
    const {keys, exact} = await namespaceSize(redis, KEY_NAMESPACE)
    const doomed = `${exact ? '' : 'about '}${keys.toLocaleString('en-US')} ${keys === 1 ? 'key' : 'keys'}`
    return `Delete every ${KEY_NAMESPACE}* key in ${target} (${doomed}), then restore ${records}?`
  }

  private noteBackup({info, expiry, ignored}: VerifiedBackup): void {
    const made = info.created_at ? `made ${formatTime(Date.parse(info.created_at) / 1000)}` : 'of unknown date'
    this.note(`Verified ${info.file}: ${info.format}, ${made}, ${describeKinds(info.counts)}.`)
    if (expiry === 'from_backup_timestamp') this.note('Gateway JSON backup: TTLs are counted from its timestamp.')
    if (expiry === 'as_recorded') this.note('Gateway JSON backup without a readable timestamp: TTLs are applied as recorded, counted from now.')
    if (ignored > 0) this.note(`${formatCount(ignored)} entries outside oauth: (sessions) are not restored.`)
  }

  private report(result: RestoreResult): void {
    const [written, overwritten, kept, expired, cleared] = [result.written, result.overwritten, result.kept, result.skipped_expired, result.cleared].map(
      formatCount,
    )
    if (result.dry_run) {
      const first = result.mode === 'clear' ? `would clear ${cleared} oauth:* keys, then ` : 'would '
      this.note(`Dry run: ${first}write ${written}, overwrite ${overwritten}, keep ${kept} already present, skip ${expired} expired. Nothing was changed.`)
    } else {
      const first = result.mode === 'clear' ? `cleared ${cleared} oauth:* keys, then ` : ''
      this.note(`Restored: ${first}wrote ${written}, overwrote ${overwritten}, kept ${kept} already present, skipped ${expired} expired.`)
    }
  }
}
