import {strict as assert} from 'node:assert'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {useRedis} from '../support/context.js'
import {TestTerminal} from '../support/terminal.js'

/** The text as a pattern whose spaces may also be the line breaks the prompt wraps at. */
const wrapped = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+'))

/** The destructive store commands ask in a real terminal (tmux), and the question says how much will go. */
describe('confirmations that say how much will go', function () {
  this.timeout(60_000)
  const ctx = useRedis()
  let terminal: TestTerminal
  let cwd: string

  beforeEach(async () => {
    terminal = new TestTerminal()
    cwd = await mkdtemp(join(tmpdir(), 'mcpauth-confirm-'))
  })
  afterEach(async () => {
    await terminal.close()
  })

  async function answerNo(): Promise<void> {
    await terminal.sendKeys('n', 'Enter')
    assert.equal(await terminal.exitCode(), 130)
  }

  it('oauth-revoke-user counts the tokens in the user index and names the usernames found, ignoring case', async () => {
    const {clientId} = await ctx.gateway.client()
    for (let i = 0; i < 3; i++) await ctx.gateway.accessToken({username: 'mallory', clientId})
    await ctx.gateway.accessToken({username: 'Mallory', clientId})
    await ctx.gateway.accessToken({username: 'malloryx', clientId})
    await terminal.start(['oauth-revoke-user', 'MALLORY'], {cwd, env: {REDIS_URL: ctx.server.url}})
    const question = await terminal.waitForScreen(/\(y\/N\)/)
    assert.match(question, wrapped('Revoke every token of user MALLORY? Their index lists 4 access tokens (as Mallory, mallory)'))
    await answerNo()
    assert.equal(await ctx.redis.scard('oauth:user_tokens:mallory'), 3)
  })

  it('oauth-delete-client-complete counts the records issued to the client before asking', async () => {
    const {clientId} = await ctx.gateway.client()
    const other = await ctx.gateway.client()
    await ctx.gateway.accessToken({username: 'alice', clientId})
    await ctx.gateway.accessToken({username: 'bob', clientId})
    await ctx.gateway.accessToken({username: 'bob', clientId: other.clientId})
    await ctx.gateway.refreshToken({username: 'alice', clientId})
    await ctx.gateway.code({clientId, username: 'alice'})
    await terminal.start(['oauth-delete-client-complete', clientId], {cwd, env: {REDIS_URL: ctx.server.url}})
    const question = await terminal.waitForScreen(/\(y\/N\)/)
    assert.match(question, wrapped(`Delete client ${clientId} with 2 access tokens, 1 refresh token, 1 code and 0 states?`))
    await answerNo()
    assert.equal(await ctx.redis.exists(`oauth:client:${clientId}`), 1)
  })

  it('oauth-purge-expired counts (or, in a large database, estimates) the keys of the oauth: namespace it will check', async () => {
    const {clientId} = await ctx.gateway.client()
    for (let i = 0; i < 20; i++) await ctx.gateway.accessToken({username: `user${i}`, clientId, expiresIn: -60, ttl: 3600})
    await ctx.redis.set('not-oauth', 'x')
    await terminal.start(['oauth-purge-expired'], {cwd, env: {REDIS_URL: ctx.server.url}})
    const question = await terminal.waitForScreen(/\(y\/N\)/)
    // 1 client, 20 tokens and 20 index sets; a database this small is counted, not estimated.
    assert.match(question, wrapped('It checks 41 oauth: keys'))
    await answerNo()
    assert.equal(await ctx.redis.dbsize(), 42)
  })
})
