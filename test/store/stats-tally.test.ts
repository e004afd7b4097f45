import {strict as assert} from 'node:assert'

import {type RedisClient, isCluster, scanKeys} from '../../src/redis/client.js'
import {parseKey, parseRecord} from '../../src/store/records.js'
import {collectStats} from '../../src/store/stats.js'
import {TokenStore} from '../../src/store/token-store.js'
import {describeOnEachRedis} from '../support/context.js'
import {newJti, pythonJson} from '../support/gateway-fixtures.js'

const DAY = 86_400

/**
 * oauth-stats reads each SCAN page in the script that scans it on a single
 * server (checking small index sets for orphans there too) and key by key on
 * a cluster; both must give what a plain count over GET and PTTL of every
 * key gives, on records of every kind with every problem a value can have,
 * values too large for one call and index sets too large to check in one.
 */
describeOnEachRedis('oauth-stats against a straightforward count', (ctx) => {
  it('gives the same numbers, top users and clients and expiry days, in big batches and small', async () => {
    const now = Math.floor(Date.now() / 1000) + 0.25
    await fill(ctx.redis, now)
    const expected = await straightforwardCount(ctx.redis, now)
    assert.ok(expected.kinds.token.malformed >= 8 && expected.kinds.client.malformed >= 5, 'the fixture has problems of every kind')
    for (const batchSize of [1000, 7, 1]) {
      const {generated_at: _, ...stats} = await collectStats(new TokenStore(ctx.redis, batchSize), {now})
      assert.deepEqual(stats, expected, `batches of ${batchSize}`)
    }
  })
})

async function fill(redis: RedisClient, now: number): Promise<void> {
  const set = async (key: string, value: string, ttl: number | null = 3600) => {
    if (ttl === null) await redis.set(key, value)
    else await redis.set(key, value, 'EX', ttl)
  }
  const lists = {redirect_uris: pythonJson(['http://127.0.0.1/cb']), response_types: pythonJson(['code']), grant_types: pythonJson(['authorization_code'])}
  const clients: Record<string, unknown> = {
    vscode: {client_name: 'VS Code', client_secret_expires_at: 0, ...lists},
    cursor: {client_name: 'Cursor', client_secret_expires_at: null, redirect_uris: ['http://127.0.0.1/cb'], response_types: [], grant_types: 'code'},
    expired_secret: {client_secret_expires_at: now - 60, ...lists},
    secret_soon_ms: {client_secret_expires_at: (now + 3600) * 1000, ...lists},
    secret_as_text: {client_secret_expires_at: ` ${Math.floor(now + 7200)} `, redirect_uris: 'not json', response_types: '', grant_types: '[]'},
    object_list: {...lists, redirect_uris: {}},
    text_object_list: {...lists, redirect_uris: '{"a": "b"}'},
    number_list: {...lists, grant_types: [1]},
    text_number: {...lists, response_types: '5'},
    bad_secret_time: {...lists, client_secret_expires_at: 'never'},
  }
  for (const [id, fields] of Object.entries(clients))
    await set(`oauth:client:${id}`, pythonJson({client_id: id, ...(fields as object)}), id === 'cursor' ? null : 90 * DAY)
  await set('oauth:client:no_id', pythonJson({client_name: 'x', ...lists}))
  await set('oauth:client:numeric_id', pythonJson({client_id: 7, ...lists}))
  await redis.hset('oauth:client:a_hash', 'client_id', 'a_hash')

  await set('oauth:state:ok', pythonJson({client_id: 'vscode'}), 300)
  await set('oauth:state:forever', pythonJson({client_id: 'vscode'}), null)
  // A PTTL of over 10^14 ms (thousands of years) counts like any other (test/redis/walk-scripts checks its digits).
  await redis.set('oauth:state:millennia', pythonJson({client_id: 'vscode'}), 'PX', 2e14)
  await set('oauth:state:no_client', pythonJson({scope: 'x'}), 300)
  await set('oauth:state:not_json', '{"client_id": ', 300)
  await set('oauth:code:ok', pythonJson({client_id: 'cursor', username: 'alice'}), 2 * DAY)
  await set('oauth:code:array', '[1, 2]', 300)
  await set('oauth:code:empty_array', '[]', 300)
  await set('oauth:code:empty_object', '  {}', 300)

  const token = async (username: string | number | null, clientId: string, expiresAt: unknown, options: {ttl?: number | null; extra?: object} = {}) => {
    const jti = newJti()
    await set(
      `oauth:token:${jti}`,
      pythonJson({username, client_id: clientId, scope: 'openid', created_at: now - 60, expires_at: expiresAt, ...options.extra}),
      options.ttl === undefined ? 3 * DAY : options.ttl,
    )
    if (typeof username === 'string') await redis.sadd(`oauth:user_tokens:${username}`, jti)
    return jti
  }
  for (let i = 0; i < 12; i++) await token(`user${i % 5}`, i % 3 === 0 ? 'cursor' : 'vscode', now + (i + 1) * 3600)
  await token('alice', 'vscode', now + 3 * DAY)
  await token('alice', 'vscode', now + 6.5 * DAY)
  await token('alice', 'gone_client', now + 8 * DAY)
  await token('bob', 'vscode', now - 60)
  await token('bob', 'vscode', (now + 600) * 1000)
  await token('bob', 'cursor', ` ${Math.floor(now + 900)} `, {ttl: null})
  await token('carol', 'cursor', now + 1200, {extra: {padding: 'x'.repeat(200 * 1024)}})
  // past one script call's byte budget (1 MiB), and two that together use up what is left of it
  await token('carol', 'vscode', now + 1500, {extra: {padding: 'y'.repeat(1200 * 1024)}})
  await token('erin', 'vscode', now + 1500, {extra: {padding: 'z'.repeat(450 * 1024)}})
  await token('erin', 'vscode', now + 1600, {extra: {padding: 'z'.repeat(450 * 1024)}})
  await token('carol', 'cursor', 'soon')
  await token('carol', 'cursor', null)
  await token('carol', 'cursor', 1e20)
  await token('carol', 'cursor', -1)
  await token('carol', 'cursor', now + 60, {extra: {created_at: 'yesterday'}})
  await token(null, 'cursor', now + 60)
  await token(42, 'cursor', now + 60)
  await token('dave', 'cursor', true)
  await set('oauth:token:null', 'null')
  await set('oauth:token:text', '"a token"')
  await set('oauth:token:empty', '')
  await redis.sadd('oauth:token:a_set', 'x')

  await set('oauth:refresh:ok', pythonJson({username: 'alice', client_id: 'vscode', created_at: now - 60}), 30 * DAY)
  await set('oauth:refresh:text_time', pythonJson({username: 'alice', client_id: 'vscode', created_at: String(now)}), null)
  await set('oauth:refresh:bad_time', pythonJson({username: 'alice', client_id: 'vscode', created_at: 'then'}))
  await set('oauth:refresh:no_user', pythonJson({client_id: 'vscode'}))

  await redis.sadd('oauth:user_tokens:alice', 'gone-1', 'gone-2')
  await redis.sadd('oauth:user_tokens:ghost', 'gone-3')
  // more members than one call checks: the set is paged from Node instead
  const crowd = Array.from({length: 1500}, (_, i) => `gone-crowd-${i}`)
  await redis.sadd('oauth:user_tokens:crowd', ...crowd)
  for (let i = 0; i < 4; i++) await token('crowd', 'vscode', now + 4000)
  await redis.expire('oauth:user_tokens:alice', 3600)
  await set('oauth:user_tokens:not_a_set', 'x')
  await set('oauth:other:x', '{}')
  await set('elsewhere', '{}')
}

/** GET (or SCARD) and PTTL of every key, judged by records.ts's parseRecord and the rules oauth-stats documents. */
async function straightforwardCount(redis: RedisClient, now: number) {
  const counters = () => ({count: 0, expired: 0, expiring_24h: 0, without_ttl: 0, malformed: 0})
  const kinds = {client: counters(), state: counters(), code: counters(), token: counters(), refresh: counters()}
  const userIndex = {sets: 0, entries: 0, orphan_entries: 0, without_ttl: 0, malformed: 0}
  const users = new Map<string, number>()
  const clients = new Map<string, number>()
  const days = new Map<string, number>()
  const names = new Map<string, string | undefined>()
  const servers = isCluster(redis) ? redis.nodes('master') : [redis]
  const keys: string[] = []
  for await (const batch of scanKeys(redis, 'oauth:*', 100)) keys.push(...batch)
  assert.ok(servers.length > 0)
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  for (const key of keys) {
    const located = parseKey(key)
    if (!located) continue
    const pttl = await redis.pttl(key)
    const ttl = pttl >= 0 ? Math.ceil(pttl / 1000) : null
    const type = await redis.type(key)
    if (located.kind === 'user_tokens') {
      userIndex.sets++
      if (ttl === null) userIndex.without_ttl++
      if (type !== 'set') {
        userIndex.malformed++
        continue
      }
      for (const jti of await redis.smembers(key)) {
        userIndex.entries++
        if ((await redis.exists(`oauth:token:${jti}`)) === 0) userIndex.orphan_entries++
      }
      continue
    }
    const counts = kinds[located.kind]
    counts.count++
    if (ttl === null) counts.without_ttl++
    const parsed = type === 'string' ? parseRecord(located.kind, (await redis.get(key)) as string) : undefined
    if (!parsed?.ok) {
      counts.malformed++
      continue
    }
    const record = parsed.record as Record<string, unknown>
    if (located.kind === 'client') names.set(located.id, record.client_name as string | undefined)
    let expiresAt: number | undefined
    if (located.kind === 'token') expiresAt = record.expires_at as number
    else if (located.kind === 'client' && record.client_secret_expires_at) expiresAt = record.client_secret_expires_at as number
    else if (ttl !== null) expiresAt = now + ttl
    if (expiresAt === undefined) continue
    if (expiresAt <= now) counts.expired++
    else if (expiresAt - now <= DAY) counts.expiring_24h++
    if (located.kind === 'token' && expiresAt > now) {
      bump(users, record.username as string)
      bump(clients, record.client_id as string)
      if (expiresAt - now <= 7 * DAY) bump(days, new Date(expiresAt * 1000).toISOString().slice(0, 10))
    }
  }
  const top = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10)
  return {
    kinds,
    user_index: userIndex,
    top_users: top(users).map(([username, count]) => ({username, active_tokens: count})),
    top_clients: top(clients).map(([clientId, count]) => ({client_id: clientId, client_name: names.get(clientId) ?? null, active_tokens: count})),
    expiry_by_day: [...days].sort(([a], [b]) => (a < b ? -1 : 1)).map(([date, tokens]) => ({date, tokens})),
  }
}
