import {strict as assert} from 'node:assert'
import {randomBytes} from 'node:crypto'
import {copyFile, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {SETTING_ALIASES, Settings, loadSettings} from '../../src/env/settings.js'
import {decodeJwt} from '../../src/jwt/codec.js'
import {repoRoot} from '../support/cli.js'
import {useRedis} from '../support/context.js'

/**
 * The newer gateway's OAUTH_* spelling of every auth setting, name by name:
 * read under either name, from the environment and from .env, by the
 * commands that use it, and written under the spelling the .env uses.
 */

const NEWER_NAMES = [
  'OAUTH_JWT_SECRET',
  'OAUTH_JWT_ALGORITHM',
  'OAUTH_JWT_PRIVATE_KEY_B64',
  'OAUTH_ACCESS_TOKEN_LIFETIME',
  'OAUTH_REFRESH_TOKEN_LIFETIME',
  'OAUTH_SESSION_TIMEOUT',
  'OAUTH_CLIENT_LIFETIME',
  'OAUTH_ALLOWED_GITHUB_USERS',
  'OAUTH_MCP_PROTOCOL_VERSION',
]

/** A value the gateway would accept for each setting. */
function sampleValue(classic: string, key: string): string {
  if (classic === 'GATEWAY_JWT_SECRET') return randomBytes(48).toString('base64url')
  if (classic === 'JWT_ALGORITHM') return 'RS256'
  if (classic === 'JWT_PRIVATE_KEY_B64') return key
  if (classic === 'ALLOWED_GITHUB_USERS') return 'alice,bob'
  if (classic === 'MCP_PROTOCOL_VERSION') return '2025-06-18'
  return '7200'
}

const envValues = async (dir: string) => parseEnvText(await readFile(join(dir, '.env'), 'utf8')).values

describe('OAUTH_* names of the auth settings', function () {
  this.timeout(120_000)
  const ctx = useRedis()
  let key: string

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    assert.equal((await ctx.cli(['generate-rsa-keys'], {cwd: dir})).code, 0)
    key = (await envValues(dir)).get('JWT_PRIVATE_KEY_B64')!
  })

  it('has one table with exactly the names the newer gateway reads', () => {
    assert.deepEqual(Object.values(SETTING_ALIASES), NEWER_NAMES)
    for (const [classic, alias] of Object.entries(SETTING_ALIASES)) assert.equal(alias, `OAUTH_${classic.replace(/^GATEWAY_/, '')}`)
  })

  for (const [classic, alias] of Object.entries(SETTING_ALIASES)) {
    it(`reads ${alias} for ${classic}, from .env and from the environment, the classic name first`, async () => {
      const fromFile = new Settings('.env', true, new Map([[alias, 'newer']]), {})
      assert.deepEqual(fromFile.lookup(classic), {value: 'newer', source: '.env', name: alias})
      assert.deepEqual(fromFile.lookup(alias), {value: 'newer', source: '.env', name: alias})
      const fromEnvironment = new Settings('.env', true, new Map([[classic, 'classic-in-file']]), {[alias]: 'newer-in-env'})
      assert.deepEqual(fromEnvironment.lookup(classic), {value: 'newer-in-env', source: 'environment', name: alias})
      const both = new Settings('.env', true, new Map([[alias, 'newer']]), {[classic]: 'classic', [alias]: 'newer'})
      assert.equal(both.get(classic), 'classic')
    })

    it(`doctor reads ${classic} when only ${alias} is set`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
      await writeFile(join(dir, '.env'), `${alias}=${sampleValue(classic, key)}\n`, {mode: 0o600})
      const result = await ctx.cli(['doctor', '--json'], {cwd: dir})
      const check = JSON.parse(result.stdout).checks.find((found: {check: string}) => found.check === classic)
      assert.ok(check, `doctor has no ${classic} check:\n${result.stdout}`)
      assert.notEqual(check.status, 'fail', JSON.stringify(check))
      assert.match(check.detail, new RegExp(` as ${alias}$`), JSON.stringify(check))
    })
  }

  it('doctor does not report ALLOWED_GITHUB_USERS missing when OAUTH_ALLOWED_GITHUB_USERS is set, and names the OAUTH_ spelling in its hints', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    await writeFile(join(dir, '.env'), 'OAUTH_ALLOWED_GITHUB_USERS=alice\nOAUTH_ACCESS_TOKEN_LIFETIME=3600\n', {mode: 0o600})
    const checks = JSON.parse((await ctx.cli(['doctor', '--json'], {cwd: dir})).stdout).checks
    const byCheck = Object.fromEntries(checks.map((check: {check: string}) => [check.check, check]))
    assert.deepEqual([byCheck.ALLOWED_GITHUB_USERS.status, byCheck.ALLOWED_GITHUB_USERS.detail], ['ok', 'set as OAUTH_ALLOWED_GITHUB_USERS'])
    assert.equal(byCheck.GATEWAY_JWT_SECRET.hint, 'Set OAUTH_JWT_SECRET in .env.')
  })

  it('mints with OAUTH_JWT_ALGORITHM, OAUTH_JWT_SECRET and OAUTH_ACCESS_TOKEN_LIFETIME, and validate-tokens verifies it under those names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    await writeFile(
      join(dir, '.env'),
      ['BASE_DOMAIN=example.com', 'OAUTH_JWT_ALGORITHM=HS256', `OAUTH_JWT_SECRET=${'s'.repeat(64)}`, 'OAUTH_ACCESS_TOKEN_LIFETIME=7200', ''].join('\n'),
      {mode: 0o600},
    )
    const minted = await ctx.cli(['mcp-client-token', '--mint', '--username', 'alice'], {cwd: dir})
    assert.equal(minted.code, 0, minted.stderr)
    const token = (await envValues(dir)).get('MCP_CLIENT_ACCESS_TOKEN')!
    const {header, claims} = decodeJwt(token)
    assert.equal(header.alg, 'HS256')
    assert.equal(Number(claims.exp) - Number(claims.iat), 7200)
    const validated = await ctx.cli(['validate-tokens', '--json'], {cwd: dir})
    assert.equal(validated.code, 0, validated.stdout + validated.stderr)
    // With the RS256 key under its OAUTH_ name instead, the HS256 token is refused: the key was read.
    await writeFile(join(dir, '.env'), ['BASE_DOMAIN=example.com', `OAUTH_JWT_PRIVATE_KEY_B64=${key}`, `MCP_CLIENT_ACCESS_TOKEN=${token}`, ''].join('\n'))
    const refused = await ctx.cli(['validate-tokens', '--no-redis', '--json'], {cwd: dir})
    assert.equal(refused.code, 3, refused.stdout + refused.stderr)
  })

  it('oauth-purge-expired reads OAUTH_REFRESH_TOKEN_LIFETIME, and names it when it is not a number', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    await writeFile(join(dir, '.env'), 'OAUTH_REFRESH_TOKEN_LIFETIME=soon\n', {mode: 0o600})
    const result = await ctx.cli(['oauth-purge-expired', '--dry-run'], {cwd: dir})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /^Error: OAUTH_REFRESH_TOKEN_LIFETIME must be a whole number, not "soon"\.$/m)
  })

  it('generate-all-secrets writes the spelling the .env already uses', async () => {
    const newer = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    await writeFile(join(newer, '.env'), 'BASE_DOMAIN=example.com\nOAUTH_ACCESS_TOKEN_LIFETIME=3600\n', {mode: 0o600})
    assert.equal((await ctx.cli(['generate-all-secrets'], {cwd: newer})).code, 0)
    const written = await envValues(newer)
    assert.match(written.get('OAUTH_JWT_SECRET')!, /^[A-Za-z0-9_-]{64}$/)
    assert.ok(written.get('OAUTH_JWT_PRIVATE_KEY_B64'))
    assert.equal(written.has('GATEWAY_JWT_SECRET') || written.has('JWT_PRIVATE_KEY_B64'), false)
    const settings = await loadSettings(join(newer, '.env'), {})
    assert.equal(settings.lookup('JWT_PRIVATE_KEY_B64')?.name, 'OAUTH_JWT_PRIVATE_KEY_B64')

    const classic = await mkdtemp(join(tmpdir(), 'mcpauth-aliases-'))
    await copyFile(join(repoRoot, '.env.example'), join(classic, '.env.example'))
    assert.equal((await ctx.cli(['generate-all-secrets'], {cwd: classic})).code, 0)
    const classicValues = await envValues(classic)
    assert.match(classicValues.get('GATEWAY_JWT_SECRET')!, /^[A-Za-z0-9_-]{64}$/)
    assert.equal(classicValues.has('OAUTH_JWT_SECRET'), false)
  })
})
