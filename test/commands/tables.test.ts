import {strict as assert} from 'node:assert'

import type {Redis} from 'ioredis'

import {displayWidth} from '../../src/output.js'
import {bulkJti, fillAccessTokens} from '../support/bulk-fill.js'
import {useRedis} from '../support/context.js'

/** Tables and charts for people: any length, the terminal's width, readable numbers. */
describe('tables and charts', function () {
  this.timeout(120_000)
  const ctx = useRedis()

  it('fit the terminal width: long cells end in "…", bars get shorter', async () => {
    const {clientId} = await ctx.gateway.client({name: `A client with a very long name ${'x'.repeat(80)}`})
    for (let i = 0; i < 3; i++) await ctx.gateway.accessToken({username: `someone-with-a-long-login-${i}`, clientId})
    for (const args of [['oauth-list-tokens'], ['oauth-list-registrations'], ['oauth-stats', '--chart'], ['oauth-stats', '--no-chart']]) {
      const result = await ctx.cli(args, {env: {COLUMNS: '72', NO_COLOR: '1'}})
      assert.equal(result.code, 0, result.stderr)
      const tooWide = result.stdout.split('\n').filter((line) => displayWidth(line) > 72)
      assert.deepEqual(tooWide, [], `${args.join(' ')} has lines wider than 72 columns`)
      if (args[0] !== 'oauth-stats') assert.match(result.stdout, /…/, `${args.join(' ')} shortens what does not fit`)
    }
  })

  it('print numbers with thousands separators', async () => {
    await fillAccessTokens(ctx.redis as Redis, {prefix: 'sep', count: 1500, users: 1, clients: ['client_sep']})
    const stats = await ctx.cli(['oauth-stats', '--no-chart'])
    assert.match(stats.stdout, /│ access tokens +│ 1,500 │/)
    assert.match(stats.stdout, /│ user0 +│ 1,500 +│/)
    const list = await ctx.cli(['oauth-list-tokens', '--limit', '10'])
    assert.match(list.stderr, /^1,500 tokens \(10 shown; --limit 0 shows all\)\.$/m)
  })

  it('print the counts of a purge with thousands separators', async () => {
    await fillAccessTokens(ctx.redis as Redis, {prefix: 'old', count: 2400, users: 1, clients: ['client_old'], expiredEvery: 2})
    const dryRun = await ctx.cli(['oauth-purge-expired', '--dry-run'])
    assert.equal(dryRun.code, 0, dryRun.stderr)
    assert.match(dryRun.stderr, /^Would remove 1,200 access tokens, .* \(1,200 expired, 0 without TTL\) and 1,200 user index entries/m)
  })

  it('--limit 0 streams every row of a long list as one aligned table', async () => {
    await fillAccessTokens(ctx.redis as Redis, {prefix: 'all', count: 3000, users: 7, clients: ['client_all']})
    const result = await ctx.cli(['oauth-list-tokens', '--limit', '0'], {env: {NO_COLOR: '1'}})
    assert.equal(result.code, 0, result.stderr)
    for (let i = 0; i < 3000; i += 299) assert.ok(result.stdout.includes(bulkJti('all', i)), `token ${i} listed`)
    const widths = new Set(result.stdout.trimEnd().split('\n').map(displayWidth))
    assert.equal(widths.size, 1, `every line has the same width (${[...widths]})`)
    assert.match(result.stderr, /^3,000 tokens\.$/m)
  })
})
