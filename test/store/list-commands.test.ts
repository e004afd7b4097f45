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
  it('shows the soonest to expire of all tokens, not of the first ones the scan returns', async () => {
    const {clientId} = await ctx.gateway.client()
    const tokens = []
    for (let i = 0; i < 40; i++) tokens.push(await ctx.gateway.accessToken({username: `user${i}`, clientId, expiresIn: 3600 + ((i * 7919) % 40) * 60}))
    const soonest = [...tokens].sort((a, b) => a.record.expires_at - b.record.expires_at).slice(0, 5)
    const result = await ctx.cli(['oauth-list-tokens', '--limit', '5'])
    assert.equal(result.code, 0, result.stderr)
    const shown = tokens.filter(({jti}) => result.stdout.includes(jti))
    assert.deepEqual(shown.map(({jti}) => jti).sort(), soonest.map(({jti}) => jti).sort())
    const positions = soonest.map(({jti}) => result.stdout.indexOf(jti))
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      'soonest first',
    )
    assert.match(result.stderr, /40 tokens \(5 shown; --limit 0 shows all\)/)
  })

  it('reports a token whose times are out of range as malformed instead of failing', async () => {
    const {clientId} = await ctx.gateway.client()
    const good = await ctx.gateway.accessToken({username: 'alice', clientId})
    const record = {username: 'bob', client_id: clientId, created_at: 1e300, expires_at: Math.floor(Date.now() / 1000) + 3600}
    await ctx.redis.set('oauth:token:far-future', JSON.stringify(record), 'EX', 600)
    await ctx.redis.set('oauth:token:beyond', JSON.stringify({...record, created_at: 1, expires_at: 1e20}), 'EX', 600)
    await ctx.redis.set('oauth:token:before-1970', JSON.stringify({...record, created_at: 1, expires_at: -1}), 'EX', 600)
    const json = await ctx.cli(['oauth-list-tokens', '--json'])
    assert.equal(json.code, 0, json.stderr)
    const problems = Object.fromEntries(parseJson<any[]>(json).map((row) => [row.jti, row.problem]))
    assert.equal(problems[good.jti], null)
    assert.match(problems['far-future'], /created_at is out of range/)
    assert.match(problems.beyond, /expires_at is out of range/)
    assert.match(problems['before-1970'], /expires_at is out of range/)
    const table = await ctx.cli(['oauth-list-tokens'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stderr, /4 tokens, 3 malformed/)
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
  it('shows the oldest registrations when the table is limited', async () => {
    const clients = []
    for (let i = 0; i < 12; i++) {
      const createdAt = 1_700_000_000 + ((i * 37) % 12) * 86_400
      clients.push(await ctx.gateway.client({name: `Client ${i}`, extra: {created_at: createdAt, client_id_issued_at: createdAt}}))
    }
    const oldest = [...clients].sort((a, b) => a.record.created_at - b.record.created_at).slice(0, 3)
    const result = await ctx.cli(['oauth-list-registrations', '--limit', '3'])
    assert.equal(result.code, 0, result.stderr)
    const shown = clients.filter(({clientId}) => result.stdout.includes(clientId))
    assert.deepEqual(shown.map(({clientId}) => clientId).sort(), oldest.map(({clientId}) => clientId).sort())
  })

  it('reports a registration whose secret expiry is out of range as malformed', async () => {
    const {clientId} = await ctx.gateway.client({extra: {client_secret_expires_at: 1e300}})
    const result = await ctx.cli(['oauth-list-registrations', '--json'])
    assert.equal(result.code, 0, result.stderr)
    const [row] = parseJson<any[]>(result)
    assert.equal(row.client_id, clientId)
    assert.match(row.problem, /client_secret_expires_at is out of range/)
  })
})
