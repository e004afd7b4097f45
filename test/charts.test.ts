import {strict as assert} from 'node:assert'

import {expiryTimeline, renderBars} from '../src/charts.js'
import {describeOnEachRedis} from './support/context.js'

/** 2026-11-23 09:00 UTC, a Monday. */
const FIXED_NOW = Date.UTC(2026, 10, 23, 9, 0, 0) / 1000

describe('text charts', () => {
  it('scales bars to the largest value, in eighths of a cell', () => {
    const chart = renderBars(
      [
        {label: 'alice', value: 8},
        {label: 'bob', value: 3},
        {label: 'carol', value: 0},
      ],
      {width: 4},
    )
    assert.equal(chart, ['alice  ████ 8', 'bob    █▌ 3', 'carol  0'].join('\n'))
  })

  it('lists every day of the coming week, empty days included, from a fixed clock', () => {
    const bars = expiryTimeline(
      [
        {date: '2026-11-23', tokens: 5},
        {date: '2026-11-25', tokens: 2},
      ],
      FIXED_NOW,
      4,
    )
    assert.deepEqual(bars, [
      {label: '2026-11-23 today', value: 5},
      {label: '2026-11-24 tomorrow', value: 0},
      {label: '2026-11-25 Wed', value: 2},
      {label: '2026-11-26 Thu', value: 0},
    ])
  })
})

describeOnEachRedis('oauth-stats --chart', (ctx) => {
  it('draws the expiry timeline and the top users as bars, and keeps the numbers in --json', async () => {
    const {clientId} = await ctx.gateway.client({name: 'Cursor'})
    for (let i = 0; i < 3; i++) await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: 3600})
    await ctx.gateway.accessToken({username: 'bob', clientId, expiresIn: 3600})
    const drawn = await ctx.cli(['oauth-stats', '--chart'], {env: {NO_COLOR: '1'}})
    assert.equal(drawn.code, 0, drawn.stderr)
    assert.match(drawn.stdout, /Active access tokens expiring per day \(UTC\)\n\d{4}-\d\d-\d\d today +█+ 4\n/)
    assert.match(drawn.stdout, /Top users by active tokens\nalice +█{40} 3\nbob +█{13}▍ 1/)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the escape character itself
    assert.doesNotMatch(drawn.stdout, /\u001B\[/, 'NO_COLOR: no escape codes')
    const plain = await ctx.cli(['oauth-stats', '--no-chart'])
    assert.doesNotMatch(plain.stdout, /█/)
    const json = await ctx.cli(['oauth-stats', '--json'])
    assert.equal(JSON.parse(json.stdout).expiry_by_day[0].tokens, 4)
  })
})
