import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {registerClient} from '../src/oauth/client.js'
import {discoverAuthServer} from '../src/oauth/discovery.js'
import {useRedis} from './support/context.js'
import {type TestOAuthProvider, startOAuthProvider} from './support/oauth-provider.js'
import {TestTerminal} from './support/terminal.js'

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** What an operator reads: no raw escape sequences, no replacement characters, no JavaScript leaking through. */
function assertReadable(screen: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the escape character itself
  assert.doesNotMatch(screen, /\u001B|\[\?25[hl]|\[\d+[A-K]|\uFFFD/, `escape garbage on screen:\n${screen}`)
  assert.doesNotMatch(screen, /undefined|\[object Object\]|NaN/, `a value went missing on screen:\n${screen}`)
  assert.doesNotMatch(screen, /\n\s+at [^\n]+:\d+:\d+/, `a stack trace on screen:\n${screen}`)
}

describe('in a real terminal (tmux)', function () {
  this.timeout(60_000)
  const ctx = useRedis()
  let terminal: TestTerminal
  let cwd: string

  beforeEach(async () => {
    terminal = new TestTerminal()
    cwd = await mkdtemp(join(tmpdir(), 'mcpauth-terminal-cwd-'))
  })
  afterEach(async () => {
    await terminal.close()
  })

  it('oauth-delete-token asks about the exact token; Ctrl-C exits 130 and revokes nothing', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    await terminal.start(['oauth-delete-token', '--', jti], {cwd, env: {REDIS_URL: ctx.server.url}})
    const question = await terminal.waitForScreen(/Revoke access token/)
    assertReadable(question)
    assert.match(question, new RegExp(`^\\? Revoke access token ${escapeRegExp(jti)}\\? \\(y/N\\)`, 'm'))

    await terminal.sendKeys('C-c')
    assert.equal(await terminal.exitCode(), 130)
    const after = await terminal.screen()
    assertReadable(after)
    assert.match(after, /^Error: Cancelled: nothing was changed\.$/m)
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 1)
    assert.deepEqual(await ctx.redis.smembers('oauth:user_tokens:alice'), [jti])
  })

  it('oauth-delete-token revokes when the answer is yes (the prompt is live, not decoration)', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'alice', clientId})
    await terminal.start(['oauth-delete-token', '--', jti], {cwd, env: {REDIS_URL: ctx.server.url}})
    await terminal.waitForScreen(/Revoke access token/)
    await terminal.sendKeys('y', 'Enter')
    assert.equal(await terminal.exitCode(), 0)
    const after = await terminal.screen()
    assertReadable(after)
    assert.match(after, new RegExp(`^Revoked access token ${escapeRegExp(jti)} of alice\\.$`, 'm'))
    assert.equal(await ctx.redis.exists(`oauth:token:${jti}`), 0)
  })

  it('oauth-purge-expired without --yes names the Redis it would purge; Ctrl-C exits 130 and purges nothing', async () => {
    const {clientId} = await ctx.gateway.client()
    const expired = await ctx.gateway.accessToken({username: 'alice', clientId, expiresIn: -60, ttl: 3600})
    await terminal.start(['oauth-purge-expired'], {cwd, env: {REDIS_URL: ctx.server.url}})
    const question = await terminal.waitForScreen(/Purge expired/)
    assertReadable(question)
    assert.match(question, new RegExp(`^\\? Purge expired OAuth records in ${escapeRegExp(ctx.server.url)}\\? [^]*\\(y/N\\)`, 'm'))

    await terminal.sendKeys('C-c')
    assert.equal(await terminal.exitCode(), 130)
    assertReadable(await terminal.screen())
    assert.equal(await ctx.redis.exists(`oauth:token:${expired.jti}`), 1)
  })

  describe('the device flow of mcp-client-token', () => {
    let provider: TestOAuthProvider
    before(async () => {
      provider = await startOAuthProvider()
    })
    after(async () => provider.close())

    it('shows the URL and the user code readably; Ctrl-C while it waits exits 130 with .env unchanged', async () => {
      // A client registered beforehand, as a second sign-in has it: the command then has nothing to save before the approval.
      const client = await registerClient(await discoverAuthServer(provider.url), {clientName: 'terminal test', redirectUris: ['http://127.0.0.1/callback']})
      const envText = [
        '# operator notes stay',
        `MCP_SERVER_URL=${provider.url}`,
        `MCP_CLIENT_ID=${client.client_id}`,
        `MCP_CLIENT_SECRET=${client.client_secret}`,
        '',
      ].join('\n')
      await writeFile(join(cwd, '.env'), envText, {mode: 0o600})

      await terminal.start(['mcp-client-token', '--device'], {cwd})
      const screen = await terminal.waitForScreen(/enter the code/)
      assertReadable(screen)
      const shown = new RegExp(
        `^To sign in, open ${escapeRegExp(provider.url)}/device and enter the code ([A-Z]{4}-[A-Z]{4}) \\(or open (\\S+)\\)\\.$`,
        'm',
      ).exec(screen)
      assert.ok(shown, `no URL and code on one line:\n${screen}`)
      const [, userCode, completeUrl] = shown
      assert.equal(new URL(completeUrl).searchParams.get('user_code'), userCode)
      assert.ok(!screen.includes(client.client_secret!), 'the client secret is on screen')

      await terminal.sendKeys('C-c')
      assert.equal(await terminal.exitCode(), 130)
      assert.equal(await readFile(join(cwd, '.env'), 'utf8'), envText)
    })
  })
})
