import {strict as assert} from 'node:assert'

import {parseKey, parseRecord} from '../../src/store/records.js'
import {toEpochSeconds} from '../../src/time.js'
import {pythonJson} from '../support/gateway-fixtures.js'

describe('gateway records', () => {
  it('splits keys into kind and id, keeping colons inside the id', () => {
    assert.deepEqual(parseKey('oauth:token:abc'), {kind: 'token', id: 'abc'})
    assert.deepEqual(parseKey('oauth:user_tokens:a:b'), {kind: 'user_tokens', id: 'a:b'})
    assert.equal(parseKey('oauth:client_tokens:x'), undefined)
    assert.equal(parseKey('session:token:x'), undefined)
  })

  it('decodes the JSON arrays the gateway stores as strings inside client records', () => {
    const parsed = parseRecord(
      'client',
      pythonJson({client_id: 'client_x', redirect_uris: pythonJson(['http://a/cb', 'http://b/cb']), grant_types: ['authorization_code']}),
    )
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.record.redirect_uris, ['http://a/cb', 'http://b/cb'])
    assert.deepEqual(parsed.record.grant_types, ['authorization_code'])
    assert.equal(parsed.record.client_secret_expires_at, 0)
  })

  it('keeps fields it does not know', () => {
    const parsed = parseRecord('refresh', JSON.stringify({username: 'a', client_id: 'c', resources: ['https://mcp.example.com']}))
    assert.ok(parsed.ok)
    assert.deepEqual(parsed.record.resources, ['https://mcp.example.com'])
  })

  it('says what is wrong with a malformed record', () => {
    assert.deepEqual(parseRecord('token', '[]'), {ok: false, problem: 'value is not a JSON object'})
    assert.deepEqual(parseRecord('token', '{"username": 1, "client_id": "c"}'), {ok: false, problem: 'field username is not a string'})
    assert.deepEqual(parseRecord('token', '{"username": "a", "client_id": "c"}'), {ok: false, problem: 'missing field expires_at'})
    assert.deepEqual(parseRecord('token', '{"username": "a", "client_id": "c", "expires_at": "soon"}'), {ok: false, problem: 'field expires_at is not a time'})
  })

  it('reads times as seconds, milliseconds, numeric strings or ISO dates', () => {
    assert.equal(toEpochSeconds(1_700_000_000), 1_700_000_000)
    assert.equal(toEpochSeconds(1_700_000_000_500), 1_700_000_000.5)
    assert.equal(toEpochSeconds('1700000000'), 1_700_000_000)
    assert.equal(toEpochSeconds('2023-11-14T22:13:20Z'), 1_700_000_000)
    assert.equal(toEpochSeconds('tomorrow'), undefined)
  })
})
