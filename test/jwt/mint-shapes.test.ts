import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {parseJson} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import {ISSUER, decodeSegment, envDir, rsaKeyPair} from '../support/jwt-fixtures.js'
import {sendJson, startLoopbackServer} from '../support/loopback-http.js'

/**
 * A minted token has exactly the claims, and its record exactly the fields,
 * of the gateway version in use: the older gateway's aud = issuer and no azp;
 * the newer (OAUTH_*) one's aud = the resource(s), azp = client_id, and the
 * resources kept in the record.
 */
describe('mcp-client-token --mint: the token shape of each gateway version', () => {
  const ctx = useRedis()
  const keys = rsaKeyPair()
  const OLDER_CLAIMS = ['sub', 'username', 'email', 'name', 'scope', 'client_id', 'jti', 'iat', 'exp', 'iss', 'aud']

  async function mintedIn(
    lines: string[],
    args: string[],
  ): Promise<{report: any; claims: Record<string, any>; record: Record<string, unknown>; stderr: string}> {
    const cwd = await envDir(lines)
    const result = await ctx.cli(['mcp-client-token', '--mint', '--username', 'alice', '--json', ...args], {cwd})
    assert.equal(result.code, 0, result.stderr)
    const report = parseJson(result)
    const token = parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values.get('MCP_CLIENT_ACCESS_TOKEN')!
    const record = JSON.parse((await ctx.redis.get(`oauth:token:${report.jti}`))!)
    return {report, claims: decodeSegment(token, 1), record, stderr: result.stderr}
  }

  it('the older gateway (classic names in .env): aud = the issuer, no azp, no resources in the record', async () => {
    const {report, claims, record, stderr} = await mintedIn(['BASE_DOMAIN=gateway.test', `JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`], [])
    assert.deepEqual(Object.keys(claims), OLDER_CLAIMS)
    assert.equal(claims.aud, ISSUER)
    assert.deepEqual(Object.keys(record), ['sub', 'username', 'email', 'name', 'scope', 'client_id', 'created_at', 'expires_at'])
    assert.deepEqual([report.gateway_version, report.audience], ['older', ISSUER])
    assert.match(stderr, /shaped for the older gateway: \.env uses the classic setting names/)
  })

  it('the newer gateway (OAUTH_* names in .env): aud = the --resource, azp = the client id, the record keeps the resources', async () => {
    const lines = ['BASE_DOMAIN=gateway.test', `OAUTH_JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`]
    const one = await mintedIn(lines, ['--resource', 'https://MCP-Fetch.gateway.test/mcp/', '--client-id', 'client_abc'])
    assert.deepEqual(Object.keys(one.claims), [...OLDER_CLAIMS, 'azp'])
    assert.deepEqual([one.claims.aud, one.claims.azp, one.claims.iss], ['https://mcp-fetch.gateway.test/mcp', 'client_abc', ISSUER])
    assert.deepEqual(Object.keys(one.record), ['sub', 'username', 'email', 'name', 'scope', 'client_id', 'resources', 'created_at', 'expires_at'])
    assert.deepEqual(one.record.resources, ['https://mcp-fetch.gateway.test/mcp'])
    assert.equal(one.report.gateway_version, 'newer')

    const two = await mintedIn(lines, ['--resource', 'https://a.gateway.test/mcp', '--resource', 'https://b.gateway.test/mcp'])
    assert.deepEqual(two.claims.aud, ['https://a.gateway.test/mcp', 'https://b.gateway.test/mcp'])
    const none = await mintedIn(lines, [])
    assert.deepEqual([none.claims.aud, none.claims.azp, none.record.resources], [ISSUER, 'mcpauth-mint', []])
  })

  it("tells the versions apart by the gateway's metadata when .env mixes the spellings, and --gateway-version says it outright", async () => {
    let answered = 0
    const gateway = await startLoopbackServer((request, response) => {
      answered++
      if (request.url === '/.well-known/oauth-authorization-server')
        return sendJson(response, 200, {issuer: gateway.url, token_endpoint: `${gateway.url}/token`, resource_indicators_supported: true})
      sendJson(response, 404, {})
    })
    try {
      const mixed = [
        'BASE_DOMAIN=gateway.test',
        `GATEWAY_AUTH_URL=${gateway.url}`,
        `JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`,
        'OAUTH_ACCESS_TOKEN_LIFETIME=3600',
      ]
      const byMetadata = await mintedIn(mixed, [])
      assert.equal(byMetadata.report.gateway_version, 'newer')
      assert.ok(answered > 0)
      assert.match(byMetadata.stderr, /the gateway's metadata has resource_indicators_supported/)
      const told = await mintedIn(mixed, ['--gateway-version', 'older'])
      assert.deepEqual([told.report.gateway_version, 'azp' in told.claims], ['older', false])
    } finally {
      await gateway.close()
    }
  })

  it('--resource with the older gateway is a usage error (exit 2) and mints nothing', async () => {
    const cwd = await envDir(['BASE_DOMAIN=gateway.test', `JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`])
    const result = await ctx.cli(['mcp-client-token', '--mint', '--username', 'alice', '--resource', 'https://mcp.gateway.test/mcp'], {cwd})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /--resource needs the newer gateway/)
    assert.equal(await ctx.redis.dbsize(), 0)
  })
})

describe('validate-tokens --resource: the audience checked as the newer gateway /verify does', () => {
  const ctx = useRedis()
  const keys = rsaKeyPair()

  it('reports the audience, accepts a token for the resource and refuses one for another (exit 3)', async () => {
    const cwd = await envDir(['BASE_DOMAIN=gateway.test', `OAUTH_JWT_PRIVATE_KEY_B64=${keys.privateKeyB64}`])
    const minted = await ctx.cli(['mcp-client-token', '--mint', '--username', 'alice', '--resource', 'https://fetch.gateway.test/mcp'], {cwd})
    assert.equal(minted.code, 0, minted.stderr)
    const plain = parseJson(await ctx.cli(['validate-tokens', '--json'], {cwd}))
    assert.deepEqual(plain.tokens[0].audience, ['https://fetch.gateway.test/mcp'])
    assert.equal(plain.tokens[0].valid, true)

    const right = await ctx.cli(['validate-tokens', '--json', '--resource', 'https://FETCH.gateway.test/mcp/'], {cwd})
    assert.equal(right.code, 0, right.stdout + right.stderr)
    assert.deepEqual(parseJson(right).tokens[0].checks, ['format', 'signature', 'iss', 'exp', 'jti', 'aud', 'redis'])

    const wrong = await ctx.cli(['validate-tokens', '--json', '--resource', 'https://other.gateway.test/mcp'], {cwd})
    assert.equal(wrong.code, 3, wrong.stdout + wrong.stderr)
    assert.match(
      parseJson(wrong).tokens[0].reason,
      /^not for https:\/\/other\.gateway\.test\/mcp: its audience is https:\/\/fetch\.gateway\.test\/mcp .*invalid_audience/,
    )
  })
})
