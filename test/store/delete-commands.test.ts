import {strict as assert} from 'node:assert'

import {scanKeys} from '../../src/redis/client.js'
import {parseJson} from '../support/cli.js'
import {type RedisTestContext, describeOnEachRedis} from '../support/context.js'

describeOnEachRedis('oauth-delete-token', (ctx) => {
  it('deletes the exact jti and its entry in the user index, leaving others', async () => {
    const {clientId} = await ctx.gateway.client()
    const doomed = await ctx.gateway.accessToken({username: 'alice', clientId})
    const kept = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-token', '--yes', '--json', '--', doomed.jti])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), {jti: doomed.jti, deleted: true, username: 'alice', index_entries_removed: 1})
    assert.equal(await ctx.redis.exists(`oauth:token:${doomed.jti}`), 0)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), [kept.jti])
  })

  it('never matches a prefix of a jti', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-token', '--yes', '--json', '--', jti.slice(0, 8)])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).deleted, false)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })

  it('rejects a wildcard with exit 2 and deletes nothing', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-token', '*', '--yes'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /not a valid jti/)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })

  it('succeeds with a note when the token is already gone', async () => {
    const result = await ctx.cli(['oauth-delete-token', 'AAAAAAAAAAAAAAAAAAAAAA', '--yes'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /No access token AAAAAAAAAAAAAAAAAAAAAA: nothing to do/)
    assert.equal(result.stdout, '')
  })

  it('refuses without --yes when not on a terminal (exit 2, JSON error on stdout)', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-token', '--json', '--', jti])
    assert.equal(result.code, 2)
    const body = parseJson(result)
    assert.equal(body.error.exit_code, 2)
    assert.match(body.error.hint, /--yes/, JSON.stringify(body))
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })

  it('takes a jti that starts with "-" after --, and explains that when it is missing', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId, jti: '-Xk3vQ9mN2pR7sT1uW4yZ6'})
    const confused = await ctx.cli(['oauth-delete-token', jti, '--yes'])
    assert.equal(confused.code, 2)
    assert.match(confused.stderr, /oauth-delete-token -- -Xk3v/)
    const result = await ctx.cli(['oauth-delete-token', '--yes', '--json', '--', jti])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).deleted, true)
  })

  it('takes the full key as mcpauth prints it, and refuses a key of another kind (exit 2)', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const wrongKind = await ctx.cli(['oauth-delete-token', `oauth:client:${clientId}`, '--yes'])
    assert.equal(wrongKind.code, 2)
    assert.match(wrongKind.stderr, /not a jti or an oauth:token:<jti> key/)
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 1)
    const byKey = await ctx.cli(['oauth-delete-token', '--yes', '--json', '--', `oauth:token:${jti}`])
    assert.equal(byKey.code, 0, byKey.stderr)
    assert.deepEqual(parseJson(byKey), {jti, deleted: true, username: 'alice', index_entries_removed: 1})
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 0)
  })

  it('deletes a malformed record when its exact key is named', async () => {
    await ctx.redis.set('oauth:token:garbage', 'not json')
    const result = await ctx.cli(['oauth-delete-token', 'garbage', '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(parseJson(result).deleted, true)
  })
})

describeOnEachRedis('oauth-delete-registration', (ctx) => {
  it('deletes the registration only', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-registration', clientId, '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), {client_id: clientId, deleted: true})
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })

  it('takes the full key oauth:client:<client_id>, and refuses a token key', async () => {
    const {clientId} = await ctx.gateway.client()
    const wrongKind = await ctx.cli(['oauth-delete-registration', `oauth:token:${clientId}`, '--yes'])
    assert.equal(wrongKind.code, 2)
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 1)
    const result = await ctx.cli(['oauth-delete-registration', `oauth:client:${clientId}`, '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), {client_id: clientId, deleted: true})
  })

  it('accepts --force as a synonym of --yes and succeeds when already gone', async () => {
    const result = await ctx.cli(['oauth-delete-registration', 'client_missing', '--force'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /nothing to do/)
  })
})

describeOnEachRedis('oauth-delete-client-complete', (ctx) => {
  it('removes the client and everything issued to it, and nothing of other clients', async () => {
    const doomed = await ctx.gateway.client({name: 'Doomed'})
    const other = await ctx.gateway.client({name: 'Other'})
    const doomedTokens = [
      await ctx.gateway.accessToken({username: 'alice', clientId: doomed.clientId}),
      await ctx.gateway.accessToken({username: 'bob', clientId: doomed.clientId, refreshed: true}),
    ]
    const otherToken = await ctx.gateway.accessToken({username: 'alice', clientId: other.clientId})
    await ctx.gateway.refreshToken({username: 'alice', clientId: doomed.clientId})
    const otherRefresh = await ctx.gateway.refreshToken({username: 'alice', clientId: other.clientId})
    await ctx.gateway.code({clientId: doomed.clientId, username: 'alice'})
    await ctx.gateway.state({clientId: doomed.clientId})
    await ctx.redis.set('oauth:refresh:broken', 'not json')

    const result = await ctx.cli(['oauth-delete-client-complete', doomed.clientId, '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), {
      client_id: doomed.clientId,
      registration_deleted: true,
      dry_run: false,
      access_tokens: 2,
      refresh_tokens: 1,
      codes: 1,
      states: 1,
      index_entries: 2,
      malformed_skipped: 1,
    })
    for (const {jti} of doomedTokens) assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 0)
    assert.equal(await ctx.redis.exists(`oauth:client:${other.clientId}`), 1)
    assert.equal(await ctx.redis.exists(`oauth:token:${otherToken.jti}`), 1)
    assert.equal(await ctx.redis.exists(`oauth:refresh:${otherRefresh.token}`), 1)
    assert.equal(await ctx.redis.exists('oauth:refresh:broken'), 1)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), [otherToken.jti])
    assert.equal(await ctx.redis.exists('oauth:user_tokens:bob'), 0)
  })

  it('--dry-run reports exactly what the real run then removes, and changes nothing', async () => {
    const {clientId} = await ctx.gateway.client()
    const other = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    await ctx.gateway.accessToken({username: 'bob', clientId, index: false})
    await ctx.gateway.accessToken({username: 'alice', clientId: other.clientId})
    await ctx.gateway.refreshToken({username: 'alice', clientId})
    await ctx.gateway.code({clientId, username: 'alice'})
    const keysBefore = await allKeys(ctx)

    const dryRun = await ctx.cli(['oauth-delete-client-complete', '--dry-run', '--json', `oauth:client:${clientId}`])
    assert.equal(dryRun.code, 0, dryRun.stderr)
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 1)
    assert.deepEqual(await allKeys(ctx), keysBefore)
    const realRun = await ctx.cli(['oauth-delete-client-complete', '--yes', '--json', clientId])
    assert.equal(realRun.code, 0, realRun.stderr)
    const {dry_run: wasDry, ...foreseen} = parseJson(dryRun)
    const {dry_run: wasReal, ...done} = parseJson(realRun)
    assert.deepEqual([wasDry, wasReal], [true, false])
    assert.deepEqual(foreseen, done)
    assert.deepEqual(done, {
      client_id: clientId,
      registration_deleted: true,
      access_tokens: 2,
      refresh_tokens: 1,
      codes: 1,
      states: 0,
      index_entries: 1,
      malformed_skipped: 0,
    })
  })

  it('prints a human summary on stderr', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-delete-client-complete', clientId, '--yes'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /registration deleted; removed 1 access token, 0 refresh tokens, 0 codes, 0 states, 1 index entry/)
  })
})

describeOnEachRedis('oauth-revoke-user', (ctx) => {
  it('revokes access tokens, refresh tokens and codes of the user, including tokens missing from the index', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'mallory', clientId})
    const unindexed = await ctx.gateway.accessToken({username: 'mallory', clientId, index: false})
    await ctx.gateway.refreshToken({username: 'mallory', clientId})
    await ctx.gateway.code({clientId, username: 'mallory'})
    const innocent = await ctx.gateway.accessToken({username: 'alice', clientId})

    const result = await ctx.cli(['oauth-revoke-user', 'mallory', '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.equal(body.access_tokens, 2)
    assert.equal(body.refresh_tokens, 1)
    assert.equal(body.codes, 1)
    assert.equal(body.index_deleted, true)
    assert.equal(await ctx.redis.exists(`oauth:token:${unindexed.jti}`), 0)
    assert.equal(await ctx.redis.exists('oauth:user_tokens:mallory'), 0)
    assert.equal(await ctx.redis.exists(`oauth:token:${innocent.jti}`), 1)
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 1)
  })

  it('does not touch a user whose name merely starts with the same letters', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'malloryx', clientId})
    const result = await ctx.cli(['oauth-revoke-user', 'mallory', '--yes', '--json'])
    assert.equal(parseJson(result).access_tokens, 0)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
  })
  it('matches the username ignoring case, as GitHub does, and names the usernames it matched', async () => {
    const {clientId} = await ctx.gateway.client()
    const lower = await ctx.gateway.accessToken({username: 'mallory', clientId})
    const mixed = await ctx.gateway.accessToken({username: 'MalLory', clientId})
    await ctx.gateway.refreshToken({username: 'MALLORY', clientId})
    const innocent = await ctx.gateway.accessToken({username: 'mallory2', clientId})

    const result = await ctx.cli(['oauth-revoke-user', 'Mallory', '--yes', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const body = parseJson(result)
    assert.deepEqual(body.matched_usernames, ['MALLORY', 'MalLory', 'mallory'])
    assert.equal(body.access_tokens, 2)
    assert.equal(body.refresh_tokens, 1)
    assert.equal(body.index_entries, 2)
    assert.equal(body.index_deleted, true)
    assert.match(result.stderr, /matched MALLORY, MalLory, mallory/)
    for (const {jti} of [lower, mixed]) assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 0)
    assert.equal(await ctx.redis.exists('oauth:user_tokens:mallory'), 0)
    assert.equal(await ctx.redis.exists('oauth:user_tokens:MalLory'), 0)
    assert.equal(await ctx.redis.exists(`oauth:token:${innocent.jti}`), 1)
  })

  it('--dry-run reports exactly what the real run then revokes, and changes nothing', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'mallory', clientId})
    await ctx.gateway.accessToken({username: 'Mallory', clientId, index: false})
    await ctx.gateway.code({clientId, username: 'mallory'})
    await ctx.redis.sadd('oauth:user_tokens:MALLORY', 'gone-jti')
    const keysBefore = await allKeys(ctx)

    const dryRun = await ctx.cli(['oauth-revoke-user', 'mallory', '--dry-run', '--json'])
    assert.equal(dryRun.code, 0, dryRun.stderr)
    assert.deepEqual(await allKeys(ctx), keysBefore)
    assert.match(dryRun.stderr, /would remove 2 access tokens/)
    const realRun = await ctx.cli(['oauth-revoke-user', 'mallory', '--yes', '--json'])
    assert.equal(realRun.code, 0, realRun.stderr)
    const {dry_run: wasDry, ...foreseen} = parseJson(dryRun)
    const {dry_run: wasReal, ...done} = parseJson(realRun)
    assert.deepEqual([wasDry, wasReal], [true, false])
    assert.deepEqual(foreseen, done)
    assert.deepEqual(done.matched_usernames, ['MALLORY', 'Mallory', 'mallory'])
    assert.equal(await ctx.redis.exists('oauth:user_tokens:MALLORY'), 0)
  })
})

/** Every key on every master, sorted: what a dry run must leave as it was. */
async function allKeys(ctx: RedisTestContext): Promise<string[]> {
  const keys: string[] = []
  for await (const batch of scanKeys(ctx.redis, '*', 1000)) keys.push(...batch)
  return keys.sort()
}
