import {strict as assert} from 'node:assert'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseJson, runCli} from '../support/cli.js'
import {envDir, gatewayClaims, handSignedRs256, nowSeconds, rs256Settings, rsaKeyPair} from '../support/jwt-fixtures.js'

/**
 * check-token-expiry and validate-tokens read their tokens from the same
 * sources in the same order as every setting: the process environment,
 * then .env.
 */
describe('one source of tokens for check-token-expiry and validate-tokens', () => {
  const keys = rsaKeyPair()
  const token = (secondsLeft: number): string => handSignedRs256(gatewayClaims({exp: nowSeconds() + secondsLeft}), keys.privateKey)

  it('a token only in the environment is checked by both (it expired: exit 3 from each)', async () => {
    const cwd = await envDir(rs256Settings(keys))
    const env = {MCP_CLIENT_ACCESS_TOKEN: token(-60)}
    const expiry = await runCli(['check-token-expiry', '--json'], {cwd, env})
    assert.equal(expiry.code, 3, expiry.stdout + expiry.stderr)
    assert.deepEqual(
      parseJson(expiry).tokens.map((found: {name: string; status: string}) => [found.name, found.status]),
      [['MCP_CLIENT_ACCESS_TOKEN', 'expired']],
    )
    const validation = await runCli(['validate-tokens', '--no-redis', '--json'], {cwd, env})
    assert.equal(validation.code, 3, validation.stdout + validation.stderr)
    assert.deepEqual(
      parseJson(validation).tokens.map((found: {name: string; valid: boolean}) => [found.name, found.valid]),
      [['MCP_CLIENT_ACCESS_TOKEN', false]],
    )
  })

  it('the environment wins over .env for both, and an opaque token takes its _EXPIRES_AT from the environment too', async () => {
    const cwd = await envDir([...rs256Settings(keys), `MCP_CLIENT_ACCESS_TOKEN=${token(-60)}`, 'GITHUB_PAT=ghu_0123456789abcdefghijABCDEFGHIJ012345'])
    const env = {MCP_CLIENT_ACCESS_TOKEN: token(86_400), GITHUB_PAT_EXPIRES_AT: String(nowSeconds() - 10)}
    const expiry = parseJson(await runCli(['check-token-expiry', '--json'], {cwd, env}))
    assert.deepEqual(
      expiry.tokens.map((found: {name: string; status: string}) => [found.name, found.status]),
      [
        ['MCP_CLIENT_ACCESS_TOKEN', 'ok'],
        ['GITHUB_PAT', 'expired'],
      ],
    )
    const validation = parseJson(await runCli(['validate-tokens', '--no-redis', '--json'], {cwd, env}))
    assert.deepEqual(
      validation.tokens.map((found: {name: string; valid: boolean}) => [found.name, found.valid]),
      [
        ['MCP_CLIENT_ACCESS_TOKEN', true],
        ['GITHUB_PAT', false],
      ],
    )
  })

  it('check-token-expiry without any .env checks the tokens of the environment, and still says so when there are none', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-sources-'))
    const result = await runCli(['check-token-expiry', '--json'], {cwd, env: {GATEWAY_OAUTH_ACCESS_TOKEN: token(7200)}})
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).tokens.map((found: {name: string}) => found.name),
      ['GATEWAY_OAUTH_ACCESS_TOKEN'],
    )
    const none = await runCli(['check-token-expiry'], {cwd})
    assert.equal(none.code, 4, none.stderr)
    assert.match(none.stderr, /There is no \.env to check/)
  })
})
