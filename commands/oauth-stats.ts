import {Flags} from '@oclif/core'

import {expiryTimeline, renderBars} from '../src/charts.js'
import {type TokenStats, collectStats} from '../src/store/stats.js'
import {renderTable} from '../src/output.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'

const KIND_LABELS = {client: 'clients', token: 'access tokens', refresh: 'refresh tokens', code: 'codes', state: 'states'} as const

export default class OauthStats extends BaseCommand<typeof OauthStats> {
  static override summary = 'Count the OAuth records in Redis: per kind, expired, expiring, orphans, top users and clients'
  static override description =
    `One pass over the oauth:* keyspace with SCAN. "Expired" access tokens are past their expires_at but still stored; "without TTL" are keys Redis will never expire; orphan index entries are jti in oauth:user_tokens:{user} whose token is gone. oauth-purge-expired cleans all three.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --no-chart > stats.txt',
    '<%= config.bin %> <%= command.id %> --json | jq .kinds.token',
  ]

  static override flags = {
    ...redisFlags,
    chart: Flags.boolean({
      summary: 'Draw when tokens expire over the next days, and the top users and clients, as bars (default: on a terminal).',
      allowNo: true,
    }),
  }

  async run(): Promise<TokenStats> {
    const store = await this.tokenStore()
    const progress = await this.progress('Counting records')
    const stats = await collectStats(store, {onProgress: (seen) => progress.update(seen)})
    progress.done()
    this.render(stats)
    return stats
  }

  private render(stats: TokenStats): void {
    const kindRows = Object.entries(KIND_LABELS).map(([kind, label]) => {
      const counts = stats.kinds[kind as keyof typeof KIND_LABELS]
      return [label, counts.count, counts.expired, counts.expiring_24h, counts.without_ttl, counts.malformed].map(String)
    })
    const index = stats.user_index
    kindRows.push(['user index sets', index.sets, '-', '-', index.without_ttl, index.malformed].map(String))
    this.log(renderTable(['records', 'count', 'expired', 'expiring <24h', 'without TTL', 'malformed'], kindRows))
    this.log(`User index: ${index.entries} entries, ${index.orphan_entries} orphan${index.orphan_entries === 1 ? '' : 's'} (token gone).`)
    if (this.flags.chart ?? Boolean(process.stdout.isTTY)) this.renderCharts(stats)
    else this.renderTopTables(stats)
  }

  private renderCharts(stats: TokenStats): void {
    const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR
    this.log('\nActive access tokens expiring per day (UTC)')
    this.log(renderBars(expiryTimeline(stats.expiry_by_day, Date.parse(stats.generated_at) / 1000), {color}))
    if (stats.top_users.length > 0) {
      this.log('\nTop users by active tokens')
      this.log(
        renderBars(
          stats.top_users.map((user) => ({label: user.username, value: user.active_tokens})),
          {color},
        ),
      )
    }
    if (stats.top_clients.length > 0) {
      this.log('\nTop clients by active tokens')
      const bars = stats.top_clients.map((client) => ({
        label: client.client_name ? `${client.client_name} (${client.client_id})` : client.client_id,
        value: client.active_tokens,
      }))
      this.log(renderBars(bars, {color}))
    }
  }

  private renderTopTables(stats: TokenStats): void {
    if (stats.top_users.length > 0) {
      this.log('\nTop users by active tokens')
      this.log(
        renderTable(
          ['user', 'tokens'],
          stats.top_users.map((user) => [user.username, String(user.active_tokens)]),
        ),
      )
    }
    if (stats.top_clients.length > 0) {
      this.log('\nTop clients by active tokens')
      this.log(
        renderTable(
          ['client', 'name', 'tokens'],
          stats.top_clients.map((client) => [client.client_id, client.client_name ?? '-', String(client.active_tokens)]),
        ),
      )
    }
  }
}
