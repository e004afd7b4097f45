import {strict as assert} from 'node:assert'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {purgeExpired} from '../../src/store/purge.js'
import {TokenStore} from '../../src/store/token-store.js'
import {scanKeys} from '../../src/redis/client.js'
import {parseJson} from '../support/cli.js'
import {describeOnEachRedis} from '../support/context.js'
import {nowSeconds, pythonJson} from '../support/gateway-fixtures.js'

describeOnEachRedis('oauth-stats', (ctx) => {
  it('counts kinds, expiry, missing TTLs, malformed records, orphans and top users and clients', async () => {
    const vscode = await ctx.gateway.client({name: 'VS Code'})
    await ctx.gateway.client({name: 'Eternal', ttl: null})
    await ctx.gateway.accessToken({username: 'alice', clientId: vscode.clientId})
    await ctx.gateway.accessToken({username: 'alice', clientId: vscode.clientId, expiresIn: 3600})
    await ctx.gateway.accessToken({username: 'bob', clientId: vscode.clientId, expiresIn: 7 * 86_400})
    await ctx.gateway.accessToken({username: 'bob', clientId: vscode.clientId, expiresIn: -10, ttl: 600})
    await ctx.gateway.refreshToken({username: 'alice', clientId: vscode.clientId})
    await ctx.gateway.state({clientId: vscode.clientId, ttl: null})
    await ctx.redis.sadd('oauth:user_tokens:alice', 'gone-jti-1', 'gone-jti-2')
    await ctx.redis.set('oauth:token:broken', 'nope')

    const result = await ctx.cli(['oauth-stats', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const stats = parseJson(result)
    assert.deepEqual(stats.kinds.token, {count: 5, expired: 1, expiring_24h: 2, without_ttl: 1, malformed: 1})
    assert.deepEqual(stats.kinds.client, {count: 2, expired: 0, expiring_24h: 0, without_ttl: 1, malformed: 0})
    assert.equal(stats.kinds.refresh.count, 1)
    assert.equal(stats.kinds.state.without_ttl, 1)
    assert.deepEqual(stats.user_index, {sets: 2, entries: 6, orphan_entries: 2, without_ttl: 2, malformed: 0})
    assert.deepEqual(stats.top_users, [
      {username: 'alice', active_tokens: 2},
      {username: 'bob', active_tokens: 1},
    ])
    assert.deepEqual(stats.top_clients, [{client_id: vscode.clientId, client_name: 'VS Code', active_tokens: 3}])
  })

  it('gives generated_at as an ISO 8601 UTC time', async () => {
    const before = Date.now()
    const stats = parseJson(await ctx.cli(['oauth-stats', '--json']))
    assert.match(stats.generated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    assert.ok(Math.abs(Date.parse(stats.generated_at) - before) < 60_000)
  })

  it('reports a record whose times are out of range as malformed and counts the rest', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    for (const [id, expiresAt] of Object.entries({huge: 1e300, beyond: 1e20, negative: -1, word: 'soon', year10000: 253_402_300_800})) {
      await ctx.redis.set(`oauth:token:${id}`, pythonJson({username: 'bob', client_id: clientId, expires_at: expiresAt}), 'EX', 600)
    }
    const result = await ctx.cli(['oauth-stats', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const stats = parseJson(result)
    assert.deepEqual(stats.kinds.token, {count: 6, expired: 0, expiring_24h: 1, without_ttl: 0, malformed: 5})
    assert.deepEqual(stats.top_users, [{username: 'alice', active_tokens: 1}])
  })

  it('renders tables on stdout without --json', async () => {
    const {clientId} = await ctx.gateway.client({name: 'Cursor'})
    await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-stats'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /access tokens/)
    assert.match(result.stdout, /Top users by active tokens/)
    assert.match(result.stdout, /Cursor/)
  })
})

describeOnEachRedis('oauth-purge-expired', (ctx) => {
  async function fillWithLeftovers() {
    const {clientId} = await ctx.gateway.client()
    const expiredClient = await ctx.gateway.client({secretExpiresAt: nowSeconds() - 10})
    return {
      clientId,
      expiredClientId: expiredClient.clientId,
      valid: await ctx.gateway.accessToken({username: 'alice', clientId}),
      expired: await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: -60, ttl: 3600}),
      validWithoutTtl: await ctx.gateway.accessToken({username: 'bob', clientId, ttl: null}),
      expiredWithoutTtl: await ctx.gateway.accessToken({username: 'bob', clientId, expiresIn: -60, ttl: null}),
      refreshWithoutTtl: await ctx.gateway.refreshToken({username: 'alice', clientId, ttl: null, createdAt: nowSeconds() - 40 * 86_400}),
      freshRefreshWithoutTtl: await ctx.gateway.refreshToken({username: 'alice', clientId, ttl: null}),
      stateWithoutTtl: await ctx.gateway.state({clientId, ttl: null}),
      codeWithoutTtl: await ctx.gateway.code({clientId, username: 'alice', ttl: null}),
      eternalClient: await ctx.gateway.client({ttl: null}),
    }
  }

  it('--dry-run reports what would go and changes nothing', async () => {
    await fillWithLeftovers()
    await ctx.redis.sadd('oauth:user_tokens:carol', 'orphan-jti')
    const before = await dumpKeys()
    const result = await ctx.cli(['oauth-purge-expired', '--dry-run', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.equal(body.dry_run, true)
    assert.deepEqual(body.deleted, {access_tokens: 2, clients: 1, refresh_tokens: 1, states: 1, codes: 1})
    assert.equal(body.ttl_restored, 2)
    assert.equal(body.index_entries_removed, 3, 'the entries of the two expired tokens, and the orphan')
    assert.deepEqual(await dumpKeys(), before)
  })

  it('--dry-run reports exactly what the real run then does, index entries and emptied sets included', async () => {
    const data = await fillWithLeftovers()
    await ctx.redis.sadd('oauth:user_tokens:carol', 'orphan-jti')
    // dave's set goes through the deletion of his only token, erin's through an orphan and an expired token.
    await ctx.gateway.accessToken({username: 'dave', clientId: data.clientId, expiresIn: -60, ttl: 3600})
    await ctx.gateway.accessToken({username: 'erin', clientId: data.clientId, expiresIn: -60, ttl: 3600})
    await ctx.redis.sadd('oauth:user_tokens:erin', 'gone-jti')
    // An entry whose token names another user stays: the real run removes a token's entry from its own user's set.
    await ctx.redis.sadd('oauth:user_tokens:frank', data.valid.jti)

    const dryRun = await ctx.cli(['oauth-purge-expired', '--dry-run', '--json'])
    assert.equal(dryRun.code, 0, dryRun.stderr)
    const realRun = await ctx.cli(['oauth-purge-expired', '--yes', '--json'])
    assert.equal(realRun.code, 0, realRun.stderr)
    const {dry_run: wasDry, ...foreseen} = parseJson(dryRun)
    const {dry_run: wasReal, ...done} = parseJson(realRun)
    assert.equal(wasDry, true)
    assert.equal(wasReal, false)
    assert.deepEqual(foreseen, done)
    assert.equal(done.index_entries_removed, 6)
    assert.equal(done.index_sets_emptied, 3, 'carol, dave and erin')
    for (const user of ['carol', 'dave', 'erin']) assert.equal(await ctx.redis.exists(`oauth:user_tokens:${user}`), 0, user)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:frank'), [data.valid.jti])
  })

  it('--dry-run foresees the real run across many small batches, where token deletes and orphan removals empty sets side by side', async () => {
    const {clientId} = await ctx.gateway.client()
    for (let i = 0; i < 40; i++) {
      // each set loses an expired token's entry and an orphan entry: either removal may be the one that empties it
      await ctx.gateway.accessToken({username: `racer${i}`, clientId, expiresIn: -60, ttl: 3600})
      await ctx.redis.sadd(`oauth:user_tokens:racer${i}`, `gone-${i}`)
      if (i % 4 === 0) await ctx.gateway.accessToken({username: `racer${i}`, clientId})
    }
    const options = {refreshTokenLifetime: 2_592_000}
    const {dry_run: _dry, ...foreseen} = await purgeExpired(new TokenStore(ctx.redis, 5), {...options, dryRun: true})
    const {dry_run: _real, ...done} = await purgeExpired(new TokenStore(ctx.redis, 5), {...options, dryRun: false})
    assert.deepEqual(foreseen, done)
    assert.equal(done.index_entries_removed, 80)
    assert.equal(done.index_sets_emptied, 30)
  })

  it('counts a set emptied by two removals running side by side once', async () => {
    const store = new TokenStore(ctx.redis)
    for (let i = 0; i < 20; i++) await ctx.redis.sadd(`oauth:user_tokens:pair${i}`, 'a', 'b')
    const entries = (jti: string) => Array.from({length: 20}, (_, i) => ({username: `pair${i}`, jti}))
    const [first, second] = await Promise.all([store.removeIndexEntries(entries('a')), store.removeIndexEntries(entries('b'))])
    assert.equal(first.removed + second.removed, 40)
    assert.equal(first.setsEmptied + second.setsEmptied, 20)
  })

  it('removes expired records and leftovers without TTL, restores TTLs of valid ones, and cleans the index', async () => {
    const data = await fillWithLeftovers()
    await ctx.redis.sadd('oauth:user_tokens:carol', 'orphan-jti')
    const result = await ctx.cli(['oauth-purge-expired', '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.deepEqual(body.deleted, {access_tokens: 2, clients: 1, refresh_tokens: 1, states: 1, codes: 1})
    assert.equal(body.expired, 3)
    assert.equal(body.missing_ttl, 3)
    assert.equal(body.ttl_restored, 2)
    assert.equal(body.index_sets_emptied, 1)

    assert.equal(await ctx.redis.exists(`oauth:token:${data.valid.jti}`), 1)
    assert.equal(await ctx.redis.exists(`oauth:token:${data.expired.jti}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:token:${data.expiredWithoutTtl.jti}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:client:${data.expiredClientId}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:client:${data.eternalClient.clientId}`), 1)
    const restoredTtl = await ctx.redis.ttl(`oauth:token:${data.validWithoutTtl.jti}`)
    assert.ok(restoredTtl > 86_000 && restoredTtl <= 86_400, `TTL ${restoredTtl}`)
    assert.ok((await ctx.redis.ttl(`oauth:refresh:${data.freshRefreshWithoutTtl.token}`)) > 2_500_000)
    assert.equal(await ctx.redis.exists(`oauth:refresh:${data.refreshWithoutTtl.token}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:state:${data.stateWithoutTtl.state}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:code:${data.codeWithoutTtl.code}`), 0)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), [data.valid.jti])
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:bob'), [data.validWithoutTtl.jti])
    assert.equal(await ctx.redis.exists('oauth:user_tokens:carol'), 0)
  })

  it('leaves malformed records alone and names them', async () => {
    await ctx.redis.set('oauth:token:garbage', 'not json', 'EX', 100)
    await ctx.redis.set('oauth:state:garbage', 'not json')
    await ctx.redis.set('oauth:user_tokens:wrongtype', 'a string')
    const result = await ctx.cli(['oauth-purge-expired', '--yes'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /3 malformed records left alone/)
    for (const key of ['oauth:token:garbage', 'oauth:state:garbage', 'oauth:user_tokens:wrongtype']) assert.equal(await ctx.redis.exists(key), 1)
  })

  it('keeps a token that was renewed between the scan and the delete', async () => {
    const {clientId} = await ctx.gateway.client()
    const survivor = await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: -60, ttl: 3600})
    const doomed = await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: -60, ttl: 3600})
    const renewed = pythonJson({...survivor.record, expires_at: nowSeconds() + 3600})
    // A real store whose walk lets the "gateway" rewrite the record after its
    // batch is read and before the purge acts on it: the race, made certain.
    class RacingStore extends TokenStore {
      override async *walk(kinds: Parameters<TokenStore['walk']>[0], options: Parameters<TokenStore['walk']>[1]) {
        for await (const batch of super.walk(kinds, options)) {
          if (batch.some((stored) => stored.id === survivor.jti)) await ctx.redis.set(`oauth:token:${survivor.jti}`, renewed, 'EX', 3600)
          yield batch
        }
      }
    }
    const result = await purgeExpired(new RacingStore(ctx.redis), {dryRun: false, refreshTokenLifetime: 2_592_000})
    assert.equal(result.deleted.access_tokens, 1)
    assert.equal(result.kept_changed, 1)
    assert.equal(await ctx.redis.get(`oauth:token:${survivor.jti}`), renewed)
    assert.equal(await ctx.redis.exists(`oauth:token:${doomed.jti}`), 0)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), [survivor.jti])
  })

  it('purges across many small batches, each batch deleting while the next is read', async () => {
    const {clientId} = await ctx.gateway.client()
    const valid: string[] = []
    const expired: string[] = []
    for (let i = 0; i < 30; i++) {
      const username = `user${i % 4}`
      valid.push((await ctx.gateway.accessToken({username, clientId})).jti)
      expired.push((await ctx.gateway.accessToken({username, clientId, expiresIn: -60, ttl: 3600})).jti)
    }
    for (let i = 0; i < 10; i++) await ctx.redis.sadd(`oauth:user_tokens:ghost${i}`, `gone-${i}-a`, `gone-${i}-b`)
    const result = await purgeExpired(new TokenStore(ctx.redis, 3), {dryRun: false, refreshTokenLifetime: 2_592_000})
    assert.equal(result.deleted.access_tokens, 30)
    assert.equal(result.kept_changed, 0)
    assert.equal(result.index_entries_removed, 30 + 20)
    assert.equal(result.index_sets_emptied, 10)
    for (const jti of expired) assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 0)
    for (const jti of valid) assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
    const indexed = (await Promise.all([0, 1, 2, 3].map((i) => ctx.redis.smembers(`oauth:user_tokens:user${i}`)))).flat()
    assert.deepEqual(indexed.sort(), [...valid].sort())
    for (let i = 0; i < 10; i++) assert.equal(await ctx.redis.exists(`oauth:user_tokens:ghost${i}`), 0)
  })

  it('judges refresh tokens without a TTL by REFRESH_TOKEN_LIFETIME from the environment or .env', async () => {
    const {clientId} = await ctx.gateway.client()
    const twoHoursOld = await ctx.gateway.refreshToken({username: 'alice', clientId, ttl: null, createdAt: nowSeconds() - 7200})
    const halfHourOld = await ctx.gateway.refreshToken({username: 'alice', clientId, ttl: null, createdAt: nowSeconds() - 1800})
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-purge-'))
    await writeFile(join(cwd, '.env'), 'REFRESH_TOKEN_LIFETIME=3600\n')

    const fromEnvFile = parseJson(await ctx.cli(['oauth-purge-expired', '--dry-run', '--json'], {cwd}))
    assert.equal(fromEnvFile.deleted.refresh_tokens, 1)
    assert.equal(fromEnvFile.ttl_restored, 1)

    const byDefault = parseJson(await ctx.cli(['oauth-purge-expired', '--dry-run', '--json']))
    assert.equal(byDefault.deleted.refresh_tokens, 0, 'within the default 30 days')
    assert.equal(byDefault.ttl_restored, 2)

    const result = await ctx.cli(['oauth-purge-expired', '--yes', '--json'], {env: {REFRESH_TOKEN_LIFETIME: '3600'}})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).deleted.refresh_tokens, 1)
    assert.equal(await ctx.redis.exists(`oauth:refresh:${twoHoursOld.token}`), 0)
    const ttl = await ctx.redis.ttl(`oauth:refresh:${halfHourOld.token}`)
    assert.ok(ttl > 1700 && ttl <= 1800, `the half-hour-old token keeps the rest of its hour: TTL ${ttl}`)
  })

  it('reports times out of range as problems and never hands Redis an expiry it refuses', async () => {
    const {clientId} = await ctx.gateway.client()
    const valid = await ctx.gateway.refreshToken({username: 'alice', clientId, ttl: null})
    const huge = {user_id: '1', username: 'alice', client_id: clientId, created_at: 1e300}
    await ctx.redis.set('oauth:refresh:created-1e300', pythonJson(huge))
    await ctx.redis.set('oauth:refresh:created-1e20', pythonJson({...huge, created_at: 1e20}))
    await ctx.redis.set('oauth:token:expires-negative', pythonJson({username: 'alice', client_id: clientId, expires_at: -1}), 'EX', 600)
    const result = await ctx.cli(['oauth-purge-expired', '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.equal(body.malformed, 3)
    assert.equal(body.ttl_restored, 1)
    assert.ok((await ctx.redis.ttl(`oauth:refresh:${valid.token}`)) > 0)
    for (const key of ['oauth:refresh:created-1e300', 'oauth:refresh:created-1e20', 'oauth:token:expires-negative']) {
      assert.equal(await ctx.redis.exists(key), 1, `${key} left alone`)
    }
  })

  it('requires --yes when not on a terminal', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: -60, ttl: 3600})
    const result = await ctx.cli(['oauth-purge-expired'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /--yes/)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })

  async function dumpKeys(): Promise<Record<string, string>> {
    const dump: Record<string, string> = {}
    for await (const keys of scanKeys(ctx.redis, 'oauth:*', 100)) {
      for (const key of keys) {
        const type = await ctx.redis.type(key)
        const value = type === 'set' ? (await ctx.redis.smembers(key)).sort().join(',') : await ctx.redis.get(key)
        dump[key] = `${type}:${value}:${(await ctx.redis.ttl(key)) > 0 ? 'ttl' : 'none'}`
      }
    }
    return dump
  }
})
