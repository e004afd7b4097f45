import {strict as assert} from 'node:assert'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {type CliResult, parseJson, repoRoot, runCli} from './support/cli.js'
import {useRedis} from './support/context.js'

/**
 * test/fixtures/hostile/terminal/: records whose text would steer the
 * operator's terminal (escape sequences, CR, bidi overrides, ...). Each is
 * written to Redis as the gateway would hold it; every table, chart and
 * message must show it escaped (`shown_as`), and --json must keep it exact.
 */
interface TerminalCase {
  case: string
  key: string
  value: Record<string, unknown>
  shown_as: string
}

const corpusDir = join(repoRoot, 'test', 'fixtures', 'hostile', 'terminal')
const CORPUS = readdirSync(corpusDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({file, ...(JSON.parse(readFileSync(join(corpusDir, file), 'utf8')) as TerminalCase)}))

/** What must never reach a terminal from untrusted text: C0/C1 controls but the line ends mcpauth writes itself, DEL, bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters under test
const RAW_CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/

function assertNothingRaw(result: CliResult, what: string): void {
  for (const [stream, text] of [
    ['stdout', result.stdout],
    ['stderr', result.stderr],
  ] as const) {
    const raw = RAW_CONTROL.exec(text)
    assert.equal(raw, null, `${what} wrote U+${raw?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} raw on ${stream}:\n${text.slice(0, 2000)}`)
  }
}

describe('untrusted text on the terminal (test/fixtures/hostile/terminal)', function () {
  this.timeout(60_000)
  const ctx = useRedis()

  beforeEach(async () => {
    for (const hostile of CORPUS) await ctx.redis.set(hostile.key, JSON.stringify(hostile.value))
  })

  const HUMAN_VIEWS = [['oauth-list-tokens'], ['oauth-list-registrations'], ['oauth-stats', '--chart'], ['oauth-stats', '--no-chart']]

  for (const hostile of CORPUS) {
    it(`${hostile.file}: ${hostile.case}, shown escaped`, async () => {
      const outputs: string[] = []
      for (const args of HUMAN_VIEWS) {
        const result = await ctx.cli(args, {env: {NO_COLOR: '1'}})
        assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
        assertNothingRaw(result, args.join(' '))
        outputs.push(result.stdout)
      }
      assert.ok(
        outputs.some((stdout) => stdout.includes(hostile.shown_as)),
        `${JSON.stringify(hostile.shown_as)} is shown somewhere:\n${outputs.join('\n')}`,
      )
    })
  }

  it('--json keeps every hostile value exact', async () => {
    const tokens = parseJson<any[]>(await ctx.cli(['oauth-list-tokens', '--json']))
    const clients = parseJson<any[]>(await ctx.cli(['oauth-list-registrations', '--json']))
    for (const hostile of CORPUS) {
      const [, kind, id] = /^oauth:(\w+):(.*)$/s.exec(hostile.key)!
      if (kind === 'token') {
        const row = tokens.find((token) => token.jti === id)
        assert.equal(row?.username, hostile.value.username, hostile.file)
        assert.equal(row?.scope, hostile.value.scope, hostile.file)
      } else {
        const row = clients.find((client) => client.client_id === id)
        assert.equal(row?.client_name, hostile.value.client_name, hostile.file)
        assert.deepEqual(row?.redirect_uris, JSON.parse(hostile.value.redirect_uris as string), hostile.file)
      }
    }
  })

  it('a 20 MB client_name prints a short cell, quickly, and stays whole in --json', async () => {
    const {clientId} = await ctx.gateway.client({name: `Big${'x'.repeat(20 * 1024 * 1024)}`})
    await ctx.gateway.accessToken({username: 'alice', clientId})
    for (const args of [['oauth-list-registrations'], ['oauth-list-tokens'], ['oauth-stats', '--chart']]) {
      const started = Date.now()
      const result = await ctx.cli(args)
      assert.equal(result.code, 0, result.stderr)
      assert.ok(result.stdout.length < 64 * 1024, `${args.join(' ')} printed ${result.stdout.length} characters`)
      assert.ok(Date.now() - started < 15_000, `${args.join(' ')} took ${Date.now() - started} ms`)
      if (args[0] !== 'oauth-stats') assert.match(result.stdout, /Bigx+…/)
    }
    const json = parseJson<any[]>(await ctx.cli(['oauth-list-registrations', '--json']))
    assert.equal(json.find((client) => client.client_id === clientId).client_name.length, 3 + 20 * 1024 * 1024)
  })

  it('an error quoting untrusted text shows it escaped, and exact in the --json error', async () => {
    const id = '\u001b]0;owned\u0007 x'
    const human = await runCli(['oauth-delete-token', '--yes', '--', id])
    assert.equal(human.code, 2)
    assertNothingRaw(human, 'the error')
    assert.match(human.stderr, /^Error: "\\x1B\]0;owned\\x07 x" is not a valid jti/m)
    const json = await runCli(['oauth-delete-token', '--yes', '--json', '--', id])
    assert.equal(json.code, 2)
    assert.ok(parseJson(json).error.message.includes(id), json.stdout)
  })

  it('a note naming a hostile username shows it escaped', async () => {
    const {clientId} = await ctx.gateway.client()
    const {jti} = await ctx.gateway.accessToken({username: 'bob\u001b[2J\rroot', clientId})
    const result = await ctx.cli(['oauth-delete-token', '--yes', '--', jti])
    assert.equal(result.code, 0, result.stderr)
    assertNothingRaw(result, 'oauth-delete-token')
    assert.match(result.stderr, /of bob\\x1B\[2J\\rroot\./)
  })
})
