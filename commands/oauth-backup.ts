import {join} from 'node:path'

import {Flags} from '@oclif/core'

import {defaultBackupName} from '../src/backup/format.js'
import {PASSPHRASE_ENV, requirePassphraseToEncrypt} from '../src/backup/crypto.js'
import {type BackupResult, writeBackup} from '../src/backup/writer.js'
import {describeRedisTarget} from '../src/redis/client.js'
import {safeForTerminal} from '../src/output.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {withInterrupt} from './_shared/interrupt.js'
import {describeKinds} from './_shared/backup-summaries.js'

export default class OauthBackup extends BaseCommand<typeof OauthBackup> {
  static override summary = 'Back up every oauth:* record in Redis to a file, with its type and absolute expiry'
  static override description =
    `Streams the oauth:* keyspace (SCAN in batches) into a newline-delimited JSON file: a header, one line per key with its Redis type, value and absolute expiry time, and a trailer with counts and a SHA-256 checksum, so a truncated or edited file is detected before any restore. The file is written under a temporary name with mode 0600, fsynced, then given its name only if no file has it: an interrupted backup leaves no file, and an existing one is never replaced, even by a backup running at the same time. Keys of a type a backup does not hold (sorted sets, streams) and values too large for a 16 MiB line are left out and named. The path of the new backup is printed on stdout. --encrypt uses AES-256-GCM with a key derived (scrypt) from ${PASSPHRASE_ENV}, read from the environment only.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --gzip',
    `${PASSPHRASE_ENV}=… <%= config.bin %> <%= command.id %> --gzip --encrypt`,
    '<%= config.bin %> <%= command.id %> --output /var/backups/mcpauth/before-upgrade.jsonl --json',
  ]

  static override flags = {
    ...redisFlags,
    output: Flags.string({char: 'o', summary: 'File to write (never overwritten).', helpValue: 'FILE', exclusive: ['dir']}),
    dir: Flags.string({summary: 'Directory for the default file name oauth-backup-YYYYMMDD-HHMMSS.jsonl (UTC).', default: 'backups', helpValue: 'DIR'}),
    gzip: Flags.boolean({summary: 'Compress with gzip (.jsonl.gz).'}),
    encrypt: Flags.boolean({summary: `Encrypt with the passphrase in ${PASSPHRASE_ENV} (.enc).`}),
  }

  async run(): Promise<BackupResult> {
    const {gzip, encrypt} = this.flags
    const passphrase = encrypt ? requirePassphraseToEncrypt() : undefined
    const file = this.flags.output ?? join(this.flags.dir, defaultBackupName({gzip, encrypted: encrypt}))
    const store = await this.tokenStore()
    const source = describeRedisTarget(await this.redisTarget())
    const tool = `${this.config.name} ${this.config.version}`
    const progress = await this.progress('Backing up')
    const result = await withInterrupt((signal) =>
      writeBackup(store.redis, {
        file,
        numberIfTaken: this.flags.output === undefined,
        gzip,
        passphrase,
        source,
        tool,
        signal,
        onProgress: (seen) => progress.update(seen),
      }),
    )
    progress.done()
    this.note(
      `Backed up ${describeKinds(result)} from ${result.source} (${result.size_bytes.toLocaleString('en-US')} bytes${gzip ? ', gzip' : ''}${encrypt ? ', encrypted' : ''}).`,
    )
    const skipped = result.skipped_unsupported + result.skipped_too_large
    if (skipped > 0) {
      // Key names come from Redis: escaped, so no control character reaches the terminal.
      const named = result.skipped_keys.map((key) => safeForTerminal(key)).join(', ')
      this.note(`Left out ${skipped} key(s) of a type a backup does not hold or too large for it: ${named}${skipped > result.skipped_keys.length ? ', …' : ''}`)
    }
    this.log(result.file)
    return result
  }
}
