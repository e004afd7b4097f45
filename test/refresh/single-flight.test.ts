import {strict as assert} from 'node:assert'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {setTimeout as delay} from 'node:timers/promises'

import {parseJson, runCli, startCli} from '../support/cli.js'
import {egressDocument, fromNow, loginsPlace, namedLoginLines, writeEgressFile} from '../support/logins.js'
import {type TestOAuthProvider, mcpClientLoginLines, signedInLogin, startOAuthProvider} from '../support/oauth-provider.js'

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(50)
  }
}

/**
 * A provider whose token endpoint keeps its answers until the test lets
 * them go: the way to make "while the provider is still answering" certain.
 */
interface HeldProvider {
  provider: TestOAuthProvider
  /** Token requests that arrived and are being held. */
  held: number
  /** From now on, token requests are held (until `release`). */
  hold(): void
  /** Answers every held request and stops holding. */
  release(): void
  /** True once a held request has been answered. */
  answered: boolean
}

async function heldProvider(): Promise<HeldProvider> {
  let holding = false
  const waiting: Array<() => void> = []
  const state: HeldProvider = {
    provider: undefined as unknown as TestOAuthProvider,
    held: 0,
    answered: false,
    hold: () => {
      holding = true
      state.answered = false
      state.held = 0
    },
    release: () => {
      holding = false
      state.answered = true
      for (const answer of waiting.splice(0)) answer()
    },
  }
  state.provider = await startOAuthProvider({
    accessTokenTtl: 600,
    intercept(request: IncomingMessage, response: ServerResponse) {
      if (!holding || !request.url?.startsWith('/token')) return false
      const answer = state.provider.provider.callback()
      state.held++
      waiting.push(() => answer(request, response))
      return true
    },
  })
  return state
}

describe('single-flight refresh: one lock per login, the .env lock only for the write', function () {
  this.timeout(120_000)
  let slow: HeldProvider
  let fast: TestOAuthProvider

  before(async () => {
    slow = await heldProvider()
    fast = await startOAuthProvider({accessTokenTtl: 600})
  })
  after(async () => {
    slow.release()
    await slow.provider.close()
    await fast.close()
  })
  afterEach(() => slow.release())

  it('refreshes once when 8 processes race, all eight overlapping: the token endpoint answers only once all of them wait', async () => {
    const lines = (await mcpClientLoginLines(slow.provider)).map((line) =>
      line.startsWith('MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=') ? `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${fromNow(60)}` : line,
    )
    const place = await loginsPlace(lines)
    const grantsBefore = slow.provider.refreshGrants
    slow.hold()
    // The buffer is shorter than the provider's 600 s tokens: a run that started after the refresh would find nothing due.
    const runs = await Promise.all(Array.from({length: 8}, () => startCli(['refresh-tokens', '--buffer', '5m', '--json'], {cwd: place.cwd})))
    const waiting = () => runs.filter((run) => run.stderrSoFar().includes('Another mcpauth is refreshing MCP_CLIENT_ACCESS_TOKEN')).length
    await waitFor('one refresh at the token endpoint and seven runs waiting for it', () => slow.held === 1 && waiting() === 7, 60_000)
    slow.release()

    const results = await Promise.all(runs.map((run) => run.done))
    for (const result of results) assert.equal(result.code, 0, result.stderr)
    assert.equal(slow.provider.refreshGrants - grantsBefore, 1)
    const statuses = results.map((result) => parseJson(result).tokens[0].status).sort()
    assert.deepEqual(statuses, ['refreshed', ...Array(7).fill('refreshed_elsewhere')].sort())
    const saved = await place.envValues()
    assert.equal(await slow.provider.isActiveAccessToken(saved.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
    const again = parseJson(await runCli(['refresh-tokens', '--force', '--json'], {cwd: place.cwd}))
    assert.equal(again.tokens[0].status, 'refreshed', 'the refresh token saved is the live one')
  })

  it('lets generate-jwt-secret --force write the same .env while a provider takes 10 s to answer a refresh', async () => {
    const place = await loginsPlace(namedLoginLines('SLOW', await signedInLogin(slow.provider)))
    // The same write with nothing else running, twice (the slower counts): what a busy machine costs anyway.
    let baseline = 0
    for (let run = 0; run < 2; run++) {
      const started = Date.now()
      assert.equal((await runCli(['generate-jwt-secret', '--force'], {cwd: place.cwd})).code, 0)
      baseline = Math.max(baseline, Date.now() - started)
    }

    slow.hold()
    const refresh = await startCli(['refresh-tokens', '--timeout', '30s', '--json'], {cwd: place.cwd})
    await waitFor('the refresh to reach the token endpoint', () => slow.held === 1)
    const answerIn10s = setTimeout(() => slow.release(), 10_000)
    const started = Date.now()
    const write = await runCli(['generate-jwt-secret', '--force', '--json'], {cwd: place.cwd})
    const elapsed = Date.now() - started
    assert.equal(write.code, 0, write.stderr)
    assert.equal(slow.answered, false, 'generate-jwt-secret finished only after the provider answered')
    assert.ok(elapsed - baseline < 1000, `generate-jwt-secret took ${elapsed} ms beside a slow refresh, ${baseline} ms alone`)
    const secret = (await place.envValues()).get('GATEWAY_JWT_SECRET')

    const refreshed = await refresh.done
    clearTimeout(answerIn10s)
    assert.equal(refreshed.code, 0, refreshed.stderr)
    assert.equal(parseJson(refreshed).tokens[0].status, 'refreshed')
    const saved = await place.envValues()
    assert.equal(saved.get('GATEWAY_JWT_SECRET'), secret, 'the refresh wrote over the new secret')
    assert.equal(await slow.provider.isActiveAccessToken(saved.get('SLOW_ACCESS_TOKEN')!), true)
  })

  it('refreshes the other logins while one provider hangs', async () => {
    const hanging = await signedInLogin(slow.provider)
    const named = await signedInLogin(fast)
    const filed = await signedInLogin(fast)
    const place = await loginsPlace([...namedLoginLines('HANGS', hanging), ...namedLoginLines('QUICK', named), `FILED_SECRET=${filed.client.client_secret}`])
    await writeEgressFile(place, 'filed-egress.json', egressDocument('filed', filed, 'FILED_SECRET'))
    slow.hold()
    const run = await startCli(['refresh-tokens', '--tokens-dir', place.tokensDir, '--timeout', '60s', '--json'], {cwd: place.cwd})
    let finished = false
    void run.done.then(() => (finished = true))
    await waitFor('the hanging provider to be asked', () => slow.held === 1)
    await waitFor('the two other logins to be saved', async () => {
      const quick = (await place.envValues()).get('QUICK_ACCESS_TOKEN')
      const file = await place.readTokenFile('filed-egress.json')
      return quick !== named.accessToken && file.access_token !== filed.accessToken
    })
    assert.equal(finished, false)
    assert.equal(slow.answered, false)
    slow.release()
    const result = await run.done
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(
      parseJson(result).tokens.map((token: any) => [token.name, token.status]),
      [
        ['HANGS_ACCESS_TOKEN', 'refreshed'],
        ['QUICK_ACCESS_TOKEN', 'refreshed'],
        ['filed-egress.json', 'refreshed'],
      ],
    )
  })
})
