import {Flags} from '@oclif/core'

import {describeRedisTarget} from '../src/redis/client.js'
import {type PurgeResult, purgeExpired} from '../src/store/purge.js'
import {formatCount, safeForTerminal} from '../src/output.js'
import {BaseCommand, confirmFlags, redisFlags} from './_shared/base-command.js'
import {plural} from './_shared/summaries.js'

export default class OauthPurgeExpired extends BaseCommand<typeof OauthPurgeExpired> {
  static override summary = 'Remove expired OAuth records, records missing their TTL, and orphan index entries'
  static override description = `In one SCAN pass:
  - access tokens past their expires_at, and clients whose secret has expired;
  - states, codes and refresh tokens stored without a TTL (the gateway always sets one); a refresh token that is still within REFRESH_TOKEN_LIFETIME, and an unexpired access token without a TTL, get their TTL back instead;
  - jti entries in oauth:user_tokens:{user} whose token is gone (a set left empty disappears).
Each delete re-checks the record inside Redis (a Lua script using Redis's clock), so a record that became valid after the scan is kept. Malformed records are reported, never deleted. --dry-run changes nothing.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --yes',
    '<%= config.bin %> <%= command.id %> --yes --json',
  ]

  static override flags = {
    ...redisFlags,
    ...confirmFlags,
    'dry-run': Flags.boolean({summary: 'Report what would be removed; change nothing.'}),
  }

  async run(): Promise<PurgeResult> {
    const dryRun = this.flags['dry-run']
    const settings = await this.settings()
    const store = await this.tokenStore()
    if (!dryRun) {
      const where = describeRedisTarget(await this.redisTarget())
      await this.confirm(`Purge expired OAuth records in ${where}?`, async () => {
        const size = await store.namespaceSize()
        return `Purge expired OAuth records in ${where}? It checks ${size.exact ? '' : '~'}${size.keys.toLocaleString('en-US')} oauth: keys; --dry-run first tells how many go.`
      })
    }
    const progress = await this.progress(dryRun ? 'Checking' : 'Purging')
    const result = await purgeExpired(store, {
      dryRun,
      refreshTokenLifetime: settings.lifetime('REFRESH_TOKEN_LIFETIME'),
      onProgress: (seen) => progress.update(seen),
    })
    progress.done()
    this.report(result)
    return result
  }

  private report(result: PurgeResult): void {
    const verb = result.dry_run ? 'Would remove' : 'Removed'
    const {deleted} = result
    this.note(
      `${verb} ${plural(deleted.access_tokens, 'access token')}, ${plural(deleted.refresh_tokens, 'refresh token')}, ` +
        `${plural(deleted.clients, 'client')}, ${plural(deleted.codes, 'code')}, ${plural(deleted.states, 'state')} ` +
        `(${formatCount(result.expired)} expired, ${formatCount(result.missing_ttl)} without TTL) and ${plural(result.index_entries_removed, 'user index entry', 'user index entries')} (of deleted tokens, or pointing at none).`,
    )
    if (result.ttl_restored > 0) this.note(`${result.dry_run ? 'Would restore' : 'Restored'} the TTL of ${plural(result.ttl_restored, 'valid record')}.`)
    if (result.kept_changed > 0) this.note(`Kept ${plural(result.kept_changed, 'record')} that became valid or changed during the purge.`)
    if (result.malformed > 0) {
      this.note(
        `${plural(result.malformed, 'malformed record')} left alone: ${result.malformed_keys.map((key) => safeForTerminal(key)).join(', ')}${result.malformed > result.malformed_keys.length ? ', …' : ''}`,
      )
    }
  }
}
