import {strict as assert} from 'node:assert'
import {readdirSync} from 'node:fs'
import {appendFile, copyFile, mkdtemp, readFile, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../src/env/env-file.js'
import {type CliResult, parseJson, repoRoot, runCli} from './support/cli.js'
import {useRedis} from './support/context.js'

const corpus = join(repoRoot, 'test', 'fixtures', 'hostile')
const STACK_TRACE = /\n\s+at [^\n]+\(?\S+:\d+:\d+\)?/

function assertNoStackTrace(result: CliResult): void {
  assert.doesNotMatch(result.stderr, STACK_TRACE, result.stderr)
  assert.doesNotMatch(result.stdout, STACK_TRACE)
}

/** `token--not-json.txt` → {kind: 'token', id: 'hostile-not-json'} */
async function redisCases(): Promise<Array<{file: string; kind: string; key: string}>> {
  return (await readdir(join(corpus, 'redis'))).map((file) => {
    const [kind, rest] = file.split('--')
    return {file, kind, key: `oauth:${kind}:hostile-${rest.replace(/\.\w+$/, '')}`}
  })
}

describe('hostile Redis records', () => {
  const ctx = useRedis()

  /** Every corpus file under its kind, plus what cannot live in a file: a 10 MB value, odd keys, wrong Redis types. */
  async function loadCorpus(): Promise<string[]> {
    const keys: string[] = []
    for (const {file, key} of await redisCases()) {
      await ctx.redis.set(key, await readFile(join(corpus, 'redis', file)))
      keys.push(key)
    }
    const huge = `{"username": "big", "client_id": "c", "expires_at": 1, "padding": "${'x'.repeat(10 * 1024 * 1024)}"}`
    await ctx.redis.set('oauth:token:hostile-10mb', huge, 'EX', 3600)
    await ctx.redis.set('oauth:token:we ird\nkey*?[]', 'not json')
    await ctx.redis.rpush('oauth:token:hostile-list', 'a', 'b')
    await ctx.redis.hset('oauth:client:hostile-hash', {client_id: 'x'})
    await ctx.redis.set('oauth:user_tokens:hostile-string', 'not a set')
    keys.push('oauth:token:we ird\nkey*?[]', 'oauth:token:hostile-list', 'oauth:client:hostile-hash', 'oauth:user_tokens:hostile-string')
    return keys
  }

  it('lists, counts and purges around every hostile record without a stack trace or damage', async function () {
    this.timeout(60_000)
    const {clientId} = await ctx.gateway.client({name: 'Real client'})
    const good = await ctx.gateway.accessToken({username: 'alice', clientId})
    const hostileKeys = await loadCorpus()

    const tokens = await ctx.cli(['oauth-list-tokens', '--json'])
    assert.equal(tokens.code, 0, tokens.stderr)
    assertNoStackTrace(tokens)
    const rows = parseJson<any[]>(tokens)
    assert.equal(rows.find((row) => row.jti === good.jti)?.problem, null)
    const cases = await redisCases()
    const idsOf = (kind: string) => cases.filter((corpusCase) => corpusCase.kind === kind).map(({key}) => key.slice(`oauth:${kind}:`.length))
    for (const id of [...idsOf('token'), 'we ird\nkey*?[]', 'hostile-list']) {
      assert.ok(rows.find((row) => row.jti === id)?.problem, `${JSON.stringify(id)} reported as malformed`)
    }
    const bigRow = rows.find((row) => row.jti === 'hostile-10mb')
    assert.equal(bigRow.username, 'big', 'a 10 MB record is still read')

    const clients = await ctx.cli(['oauth-list-registrations', '--json'])
    assert.equal(clients.code, 0, clients.stderr)
    const clientProblems = Object.fromEntries(parseJson<any[]>(clients).map((row) => [row.client_id, row.problem]))
    assert.equal(clientProblems['hostile-redirect-uris-number'], 'field redirect_uris is not a list')
    assert.equal(clientProblems['hostile-hash'], 'wrong Redis type: expected a string')
    for (const id of idsOf('client')) assert.ok(clientProblems[id], `${id} reported as malformed`)

    const stats = await ctx.cli(['oauth-stats', '--json'])
    assert.equal(stats.code, 0, stats.stderr)
    const counts = parseJson(stats)
    assert.equal(counts.kinds.token.malformed, idsOf('token').length + 2)
    assert.equal(counts.kinds.client.malformed, idsOf('client').length + 1)
    assert.equal(counts.kinds.refresh.malformed, idsOf('refresh').length)
    assert.equal(counts.user_index.malformed, 1)

    for (const args of [
      ['oauth-purge-expired', '--yes', '--json'],
      ['oauth-delete-client-complete', '--yes', '--json', clientId],
      ['oauth-revoke-user', '--yes', '--json', 'big'],
    ]) {
      const result = await ctx.cli(args)
      assert.equal(result.code, 0, `${args[0]}: ${result.stderr}`)
      assertNoStackTrace(result)
    }
    for (const key of hostileKeys) assert.equal(await ctx.redis.exists(key), 1, `${JSON.stringify(key)} survived`)
  })
})

describe('hostile .env files', () => {
  for (const file of ['crlf.env', 'bom.env', 'export-prefix.env', 'duplicate-keys.env', 'unterminated-quote.env', 'no-trailing-newline.env']) {
    it(`${file}: read with a clear word at most, and rewritten keeping every other line`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-env-'))
      const path = join(dir, '.env')
      await copyFile(join(corpus, 'env', file), path)
      const original = await readFile(path, 'utf8')

      const check = await runCli(['check-token-expiry', '--json'], {cwd: dir})
      assert.equal(check.code, 0, check.stderr)
      assertNoStackTrace(check)
      if (file === 'unterminated-quote.env') assert.match(check.stderr, /line 2 .*unclosed quote/)
      else assert.equal(check.stderr, '')

      const rotate = await runCli(['generate-jwt-secret', '--force'], {cwd: dir})
      assert.equal(rotate.code, 0, rotate.stderr)
      assertNoStackTrace(rotate)
      const rewritten = await readFile(path, 'utf8')
      const withoutSecret = (text: string) =>
        text
          .replace(/^\uFEFF?/, '')
          .split(/\r?\n/)
          .filter((line) => line !== '' && !line.startsWith('GATEWAY_JWT_SECRET='))
      assert.deepEqual(withoutSecret(rewritten), withoutSecret(original), 'every other line kept')
      assert.equal(rewritten.startsWith('\uFEFF'), original.startsWith('\uFEFF'), 'a BOM is kept')
      assert.equal(rewritten.includes('\r\n'), original.includes('\r\n'), 'line endings are kept')
      assert.match(parseEnvText(rewritten).values.get('GATEWAY_JWT_SECRET')!, /^[A-Za-z0-9_-]{64}$/)
    })
  }

  it('duplicate keys: the later value wins, as compose reads it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-env-'))
    await copyFile(join(corpus, 'env', 'duplicate-keys.env'), join(dir, '.env'))
    const doctor = await runCli(['doctor', '--json'], {cwd: dir, env: {REDIS_URL: 'redis://127.0.0.1:1/0'}})
    assertNoStackTrace(doctor)
    assert.equal(parseJson(doctor).checks.find((check: any) => check.check === 'BASE_DOMAIN').status, 'ok')
  })
})

describe('hostile JWTs', () => {
  /** The reason each token is refused; untrusted-<claim>-*.jwt carry a time claim no date can be (1e300, -1, a string). */
  const reasonOf = (file: string): RegExp | undefined =>
    ({'alg-none.jwt': /alg/i, 'bad-base64-segment.jwt': /base64|segment|JSON/i})[file] ??
    (/^untrusted-(exp|iat|nbf)-/.test(file) ? new RegExp(`${file.split('-')[1]} is (out of range|not a number)`) : undefined)
  const files = readdirSync(join(corpus, 'jwt')).sort()

  for (const file of files) {
    it(`${file}: one line with the reason, exit 3, from validate-tokens and check-token-expiry`, async () => {
      const reason = reasonOf(file)
      assert.ok(reason, `${file}: no expected reason in this test`)
      const token = await readFile(join(corpus, 'jwt', file), 'utf8')
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-jwt-'))
      await copyFile(join(repoRoot, '.env.example'), join(dir, '.env'))
      await runCli(['generate-all-secrets'], {cwd: dir})
      const result = await runCli(['validate-tokens', '--stdin', '--no-redis', '--json'], {cwd: dir, input: token})
      assert.equal(result.code, 3, result.stdout + result.stderr)
      assertNoStackTrace(result)
      const [row] = parseJson(result).tokens ?? parseJson(result)
      assert.match(JSON.stringify(row), reason)

      // Tokens that are not even shaped like a JWT are no token to check-token-expiry.
      if (!file.startsWith('untrusted-')) return
      await appendFile(join(dir, '.env'), `MCP_CLIENT_ACCESS_TOKEN=${token}\n`)
      for (const args of [['check-token-expiry', '--json'], ['check-token-expiry']]) {
        const check = await runCli(args, {cwd: dir})
        assert.equal(check.code, 3, `${args.join(' ')}: ${check.stdout}${check.stderr}`)
        assertNoStackTrace(check)
        if (args.includes('--json')) {
          const expiry = parseJson(check).tokens.find((token: {name: string}) => token.name === 'MCP_CLIENT_ACCESS_TOKEN')
          assert.equal(expiry.status, 'unreadable')
          assert.match(expiry.problem, reason)
        }
      }
    })
  }

  for (const value of ['1e300', '1e20', '-1', '99999999999999999999']) {
    it(`an opaque token whose _EXPIRES_AT is ${value}: unreadable, exit 3, no crash`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-jwt-'))
      await writeFile(join(dir, '.env'), `MCP_CLIENT_ACCESS_TOKEN=opaque-value\nMCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${value}\n`, {mode: 0o600})
      for (const args of [['check-token-expiry', '--json'], ['check-token-expiry']]) {
        const check = await runCli(args, {cwd: dir})
        assert.equal(check.code, 3, `${args.join(' ')}: ${check.stdout}${check.stderr}`)
        assertNoStackTrace(check)
        assert.match(check.stdout + check.stderr, /MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT is not a time between 1970 and 9999/)
      }
    })
  }

  it('a 1 MB payload is refused or read without a crash', async () => {
    const header = Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')
    const payload = Buffer.from(JSON.stringify({sub: '1', pad: 'x'.repeat(1024 * 1024)})).toString('base64url')
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-hostile-jwt-'))
    await copyFile(join(repoRoot, '.env.example'), join(dir, '.env'))
    await runCli(['generate-all-secrets'], {cwd: dir})
    const result = await runCli(['validate-tokens', '--stdin', '--no-redis'], {cwd: dir, input: `${header}.${payload}.c2ln`})
    assert.equal(result.code, 3)
    assertNoStackTrace(result)
  })
})
