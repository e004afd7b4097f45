import {strict as assert} from 'node:assert'

import {parseJson} from '../support/cli.js'
import {describeOnEachRedis} from '../support/context.js'

describeOnEachRedis('oauth-list-tokens', (ctx) => {
  it('lists tokens as a JSON array with client names resolved and ISO times', async () => {
    const {clientId} = await ctx.gateway.client({name: 'VS Code'})
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    const result = await ctx.cli(['oauth-list-tokens', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const rows = parseJson<any[]>(result)
    assert.equal(rows.length, 1)
    assert.equal(rows[0].jti, jti)
    assert.equal(rows[0].username, 'alice')
    assert.equal(rows[0].client_name, 'VS Code')
    assert.equal(rows[0].expired, false)
    assert.equal(rows[0].problem, null)
    assert.match(rows[0].expires_at, /^\d{4}-\d\d-\d\dT/)
    assert.ok(rows[0].ttl_seconds > 86_000)
  })

  it('prints an empty array, not nothing, when there are no tokens', async () => {
    const result = await ctx.cli(['oauth-list-tokens', '--json'])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(parseJson(result), [])
  })

  it('filters by user, client and expiry', async () => {
    const vscode = await ctx.gateway.client({name: 'VS Code'})
    const cursor = await ctx.gateway.client({name: 'Cursor'})
    await ctx.gateway.accessToken({username: 'alice', clientId: vscode.clientId})
    const bobs = await ctx.gateway.accessToken({username: 'bob', clientId: cursor.clientId})
    const expired = await ctx.gateway.accessToken({username: 'bob', clientId: vscode.clientId, expiresIn: -60, ttl: 3600})

    const byUser = parseJson<any[]>(await ctx.cli(['oauth-list-tokens', '--json', '--user', 'bob']))
    assert.deepEqual(byUser.map((row) => row.jti).sort(), [bobs.jti, expired.jti].sort())
    const byClient = parseJson<any[]>(await ctx.cli(['oauth-list-tokens', '--json', '--client', cursor.clientId]))
    assert.deepEqual(
      byClient.map((row) => row.jti),
      [bobs.jti],
    )
    const onlyExpired = parseJson<any[]>(await ctx.cli(['oauth-list-tokens', '--json', '--expired']))
    assert.deepEqual(
      onlyExpired.map((row) => row.jti),
      [expired.jti],
    )
    assert.equal(onlyExpired[0].expired, true)
  })

  it('reads refreshed tokens without email or name, and a null email', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'carol', clientId, refreshed: true})
    await ctx.gateway.accessToken({username: 'dave', clientId, email: null})
    const rows = parseJson<any[]>(await ctx.cli(['oauth-list-tokens', '--json']))
    assert.equal(rows.length, 2)
    assert.ok(rows.every((row) => row.problem === null && row.email === null))
  })

  it('reports malformed records and keeps going', async () => {
    const {clientId} = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    await ctx.redis.set('oauth:token:notjson', 'this is not json')
    await ctx.redis.set('oauth:token:noname', JSON.stringify({client_id: clientId, expires_at: 1}))
    await ctx.redis.sadd('oauth:token:wrongtype', 'x')
    await ctx.redis.set('oauth:token:binary', Buffer.from([0xff, 0xfe, 0x00, 0x81]))
    const result = await ctx.cli(['oauth-list-tokens', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const problems = Object.fromEntries(parseJson<any[]>(result).map((row) => [row.jti, row.problem]))
    assert.equal(problems.notjson, 'value is not JSON')
    assert.equal(problems.noname, 'missing field username')
    assert.equal(problems.wrongtype, 'wrong Redis type: expected a string')
    assert.equal(problems.binary, 'value is not JSON')
    assert.equal(Object.values(problems).filter((problem) => problem === null).length, 1)
  })

  it('renders a table with a count on stderr when not asked for JSON', async () => {
    const {clientId} = await ctx.gateway.client({name: 'Windsurf'})
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    await ctx.redis.set('oauth:token:broken', '{')
    const result = await ctx.cli(['oauth-list-tokens'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, new RegExp(jti))
    assert.match(result.stdout, /Windsurf/)
    assert.match(result.stdout, /malformed: value is not JSON/)
    assert.match(result.stderr, /2 tokens, 1 malformed/)
  })
})

describeOnEachRedis('oauth-list-registrations', (ctx) => {
  it('decodes the JSON-in-JSON lists and redacts secrets unless --reveal', async () => {
    const {clientId, record} = await ctx.gateway.client({name: 'Claude Code', ttl: null})
    const rows = parseJson<any[]>(await ctx.cli(['oauth-list-registrations', '--json']))
    assert.equal(rows.length, 1)
    assert.equal(rows[0].client_id, clientId)
    assert.deepEqual(rows[0].redirect_uris, ['http://127.0.0.1:8080/callback'])
    assert.deepEqual(rows[0].grant_types, ['authorization_code', 'refresh_token'])
    assert.equal(rows[0].ttl_seconds, null)
    assert.notEqual(rows[0].client_secret, record.client_secret)
    assert.ok(!JSON.stringify(rows).includes(record.client_secret))
    assert.ok(!JSON.stringify(rows).includes(record.registration_access_token))

    const revealed = parseJson<any[]>(await ctx.cli(['oauth-list-registrations', '--json', '--reveal']))
    assert.equal(revealed[0].client_secret, record.client_secret)
  })

  it('keeps secrets out of the table too', async () => {
    const {record} = await ctx.gateway.client({name: 'Cursor'})
    const result = await ctx.cli(['oauth-list-registrations'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Cursor/)
    assert.ok(!result.stdout.includes(record.client_secret))
    assert.match(result.stderr, /1 client\./)
  })
})
