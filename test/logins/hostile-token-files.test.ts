import {strict as assert} from 'node:assert'
import {readFile, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {type CliResult, parseJson, repoRoot, runCli} from '../support/cli.js'
import {egressDocument, loginsPlace, writeEgressFile} from '../support/logins.js'
import {type TestOAuthProvider, signedInLogin, startOAuthProvider} from '../support/oauth-provider.js'

const corpus = join(repoRoot, 'test', 'fixtures', 'hostile', 'token-files')
const STACK_TRACE = /\n\s+at [^\n]+\(?\S+:\d+:\d+\)?/
// biome-ignore lint/suspicious/noControlCharactersInRegex: a control character reaching the terminal is the failure
const RAW_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F]/
const GATEWAY_SECRET = 'g'.repeat(64)
const REDIS_PASSWORD = 'redis-password-not-for-any-provider'

function assertCalm(result: CliResult, what: string): void {
  assert.ok(result.code === 0 || result.code === 4, `${what}: exit ${result.code}\n${result.stderr}`)
  assert.doesNotMatch(result.stderr, STACK_TRACE, `${what}: a stack trace`)
  assert.doesNotMatch(result.stderr, RAW_CONTROL, `${what}: a control character reached the terminal`)
  assert.doesNotMatch(result.stdout, RAW_CONTROL, `${what}: a control character on stdout`)
}

/**
 * Each file of test/fixtures/hostile/token-files is put in a token directory
 * beside a good login (`{{PROVIDER}}` and `{{CLIENT_ID}}` name the test's own
 * provider and client). Whatever the file holds: no crash or stack trace, no
 * control character on the terminal, the good login refreshed, the hostile
 * file left byte for byte, no secret of the gateway sent anywhere, and the
 * registry's configs valid JSON with no header a client could be fooled by.
 */
describe('hostile token files', function () {
  this.timeout(120_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider({accessTokenTtl: 600})
  })
  after(async () => provider.close())

  it('leaves every hostile token file as it was and refreshes the good login beside it', async () => {
    const cases = (await readdir(corpus)).sort()
    assert.ok(cases.length >= 9, `${cases.length} cases`)
    for (const file of cases) {
      const good = await signedInLogin(provider)
      const place = await loginsPlace([`GATEWAY_JWT_SECRET=${GATEWAY_SECRET}`, `REDIS_PASSWORD=${REDIS_PASSWORD}`, `GOOD_SECRET=${good.client.client_secret}`])
      await writeEgressFile(place, 'good-egress.json', egressDocument('good', good, 'GOOD_SECRET'))
      const hostileText = (await readFile(join(corpus, file), 'utf8'))
        .replaceAll('{{PROVIDER}}', provider.url)
        .replaceAll('{{CLIENT_ID}}', good.client.client_id)
      const hostilePath = join(place.tokensDir, `hostile-${file.replace(/\.json$/, '')}-egress.json`)
      await writeFile(hostilePath, hostileText, {mode: 0o600})
      const requestsBefore = provider.tokenRequests.length

      const human = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir], {cwd: place.cwd})
      assertCalm(human, `${file}: refresh-tokens`)
      const json = await runCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--force', '--json'], {cwd: place.cwd})
      assertCalm(json, `${file}: refresh-tokens --json`)
      const report = parseJson(json)
      assert.equal(report.tokens.find((token: any) => token.name === 'good-egress.json')?.status, 'refreshed', `${file}: the good login`)
      assert.equal(await readFile(hostilePath, 'utf8'), hostileText, `${file}: the hostile file was changed`)
      const sent = JSON.stringify(provider.tokenRequests.slice(requestsBefore))
      assert.ok(!sent.includes(GATEWAY_SECRET) && !sent.includes(REDIS_PASSWORD), `${file}: a gateway secret was sent to a token endpoint`)

      const configs = await runCli(['mcp-config', '--format', 'registry', '--tokens-dir', place.tokensDir, '--gateway-url', 'https://gateway.example.com'], {
        cwd: place.cwd,
      })
      assertCalm(configs, `${file}: mcp-config --format registry`)
      const roo = JSON.parse(await readFile(join(place.tokensDir, 'mcp.json'), 'utf8'))
      assert.ok(roo.mcpServers.good, `${file}: the good server is missing`)
      for (const [name, entry] of Object.entries<any>(roo.mcpServers)) {
        const header = entry.headers?.Authorization
        if (header !== undefined) assert.match(header, /^Bearer [\x21-\x7e]+$/, `${file}: ${name} got a header a client could be fooled by`)
      }
    }
  })
})
