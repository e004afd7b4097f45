import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, repoRoot, runCli} from '../support/cli.js'

/**
 * bin/run.js answers --version, --help into a pipe and mcp-headers with a
 * valid token without loading oclif. Each answer must be exactly oclif's:
 * every case is run both ways, the slow one forced by what the launch path
 * leaves to oclif (OCLIF_COLUMNS for help, MCPAUTH_DEBUG otherwise).
 */

/** A --require'd probe: on exit, says on stderr whether @oclif/core was loaded. */
let probe = ''
const OCLIF_LOADED = 'probe: @oclif/core loaded'
const OCLIF_NOT_LOADED = 'probe: @oclif/core not loaded'

async function run(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult & {oclif: boolean}> {
  const result = await runCli(args, {env: {NODE_OPTIONS: `--require ${probe}`, ...env}, cwd})
  const oclif = result.stderr.includes(OCLIF_LOADED)
  assert.ok(oclif || result.stderr.includes(OCLIF_NOT_LOADED), `the probe did not report: ${result.stderr}`)
  return {...result, stderr: result.stderr.replace(/probe: .*\n/, ''), oclif}
}

/** At most `limit` at once: each is a process, and the machine has few cores. */
async function inTurns<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: limit}, async () => {
      while (next < items.length) await work(items[next++])
    }),
  )
}

describe('the launch path (answers without oclif)', function () {
  this.timeout(300_000)

  before(async () => {
    probe = join(await mkdtemp(join(tmpdir(), 'mcpauth-probe-')), 'probe.cjs')
    await writeFile(
      probe,
      `process.on('exit', () => process.stderr.write(Object.keys(require.cache).some((path) => path.includes('@oclif/core')) ? '${OCLIF_LOADED}\\n' : '${OCLIF_NOT_LOADED}\\n'))\n`,
    )
  })

  it('--help of the CLI and of every command is oclif own text, byte for byte', async () => {
    const help = JSON.parse(await readFile(join(repoRoot, 'dist', 'help.json'), 'utf8')) as {texts: Record<string, string>}
    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const keys = Object.keys(help.texts)
    // Every command of ours, plus oclif's help and autocomplete, and the CLI's own (no argv, --help).
    for (const id of Object.keys(manifest.commands)) assert.ok(keys.includes(`${id} --help`), `no pre-rendered help for ${id}`)
    assert.ok(keys.includes('') && keys.includes('--help') && keys.includes('help --help') && keys.includes('autocomplete --help'))
    await inTurns(keys, 2, async (key) => {
      const argv = key === '' ? [] : key.split(' ')
      const [fast, slow] = await Promise.all([run(argv), run(argv, {OCLIF_COLUMNS: '80'})])
      assert.equal(fast.oclif, false, `mcpauth ${key} loaded oclif`)
      assert.equal(slow.oclif, true)
      assert.equal(fast.code, slow.code)
      assert.equal(fast.stdout, slow.stdout, `mcpauth ${key}: the pre-rendered help differs from oclif's`)
      assert.equal(fast.stderr, slow.stderr)
    })
  })

  it('-h before or after the command is answered the same way', async () => {
    const [before, after, slow] = await Promise.all([
      run(['-h', 'oauth-stats']),
      run(['oauth-stats', '-h']),
      run(['oauth-stats', '--help'], {OCLIF_COLUMNS: '80'}),
    ])
    assert.equal(after.oclif, false)
    assert.equal(after.stdout, slow.stdout)
    assert.equal(before.stdout, slow.stdout)
  })

  it('help at another width is left to oclif, which wraps it there', async () => {
    const wide = await run(['oauth-stats', '--help'], {OCLIF_COLUMNS: '200'})
    const narrow = await run(['oauth-stats', '--help'])
    assert.equal(wide.oclif, true)
    assert.notEqual(wide.stdout, narrow.stdout)
    assert.ok(wide.stdout.split('\n').some((line) => line.length > 80))
  })

  it('--version, -v and `version` print oclif user agent', async () => {
    const slow = await run(['--version'], {MCPAUTH_DEBUG: '1'})
    assert.equal(slow.oclif, true)
    assert.match(slow.stdout, /^mcpauth\/\d+\.\d+\.\d+ \S+-\S+ node-v\d+\.\d+\.\d+\n$/)
    for (const argv of [['--version'], ['-v'], ['version']]) {
      const fast = await run(argv)
      assert.equal(fast.oclif, false, `${argv[0]} loaded oclif`)
      assert.equal(fast.code, 0)
      assert.equal(fast.stdout, slow.stdout)
      assert.equal(fast.stderr, '')
    }
  })

  it('a reader that has gone (EPIPE) is no error, as with oclif', async () => {
    const closedReader = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{code: number | null; stderr: string}>((resolve) => {
        const child = spawn(process.execPath, ['--', join(repoRoot, 'bin', 'run.js'), ...args], {
          env: {...process.env, ...env},
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        // Closed before the child can write: its write fails with EPIPE.
        child.stdout.destroy()
        let stderr = ''
        child.stderr.on('data', (chunk) => (stderr += chunk))
        child.on('close', (code) => resolve({code, stderr}))
      })
    for (const [args, env] of [
      [['--help'], {}],
      [['--version'], {}],
      [['--help'], {OCLIF_COLUMNS: '80'}],
    ] as Array<[string[], Record<string, string>]>) {
      const result = await closedReader(args, env)
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stderr, '')
    }
  })

  describe('mcp-headers', () => {
    const now = () => Math.floor(Date.now() / 1000)
    const envLines = (expiresAt: number) => [
      'MCP_SERVER_URL=https://127.0.0.1:9/unreachable',
      'MCP_CLIENT_ID=launch-client',
      'MCP_CLIENT_ACCESS_TOKEN=launch-access-token',
      `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${expiresAt}`,
      'MCP_CLIENT_REFRESH_TOKEN=launch-refresh-token',
    ]
    const workspace = async (lines: string[]) => {
      const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-launch-'))
      await writeFile(join(cwd, '.env'), `${lines.join('\n')}\n`, {mode: 0o600})
      return cwd
    }

    it('with a token valid beyond the buffer: the header line, without oclif, as the full command prints it', async () => {
      const cwd = await workspace(envLines(now() + 86_400))
      for (const args of [
        ['mcp-headers'],
        ['mcp-headers', '--env-file', join(cwd, '.env')],
        ['--env-file', join(cwd, '.env'), 'mcp-headers'],
        ['mcp-headers', `--env-file=${join(cwd, '.env')}`, '--buffer', '2h', '--timeout=5s'],
      ]) {
        const [fast, slow] = await Promise.all([run(args, {}, cwd), run(args, {MCPAUTH_DEBUG: '1'}, cwd)])
        assert.equal(fast.oclif, false, `${args.join(' ')} loaded oclif`)
        assert.equal(slow.oclif, true)
        assert.equal(fast.code, 0, fast.stderr)
        assert.equal(fast.stdout, '{"Authorization":"Bearer launch-access-token"}\n')
        assert.equal(fast.stdout, slow.stdout)
        assert.equal(fast.stderr, '')
      }
    })

    it('a token due within --buffer goes to the full command, which tries the refresh (and warns here: the server is unreachable)', async () => {
      const cwd = await workspace(envLines(now() + 86_400))
      const result = await run(['mcp-headers', '--buffer', '2d'], {}, cwd)
      assert.equal(result.oclif, true)
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stderr, /^Warning: could not refresh MCP_CLIENT_ACCESS_TOKEN/)
      assert.equal(result.stdout, '{"Authorization":"Bearer launch-access-token"}\n')
    })

    it('errors, bad flags and .env warnings are left to the full command', async () => {
      const cwd = await workspace(envLines(now() + 86_400))
      const expired = await workspace(envLines(now() - 60).filter((line) => !line.startsWith('MCP_CLIENT_REFRESH_TOKEN')))
      const malformed = await workspace([...envLines(now() + 86_400), 'not a setting'])
      const cases: Array<[args: string[], cwd: string, code: number, stderr: RegExp]> = [
        [['mcp-headers', '--buffer', 'soon'], cwd, 2, /^Error: --buffer must be a duration/],
        [['mcp-headers', '--timeout', 'never'], cwd, 2, /^Error: --timeout must be a duration/],
        [['mcp-headers', '--buffer', '1h', '--buffer', '2h'], cwd, 2, /can only be specified once/],
        [['mcp-headers', '--json'], cwd, 2, /Nonexistent flag: --json/],
        [['mcp-headers', '--env-file', join(cwd, 'missing.env')], cwd, 4, /^Error: Cannot read .*missing\.env/],
        [['mcp-headers'], expired, 4, /^Error: MCP_CLIENT_ACCESS_TOKEN in .* expired/],
        [['mcp-headers'], malformed, 0, /^Warning: .*line 6 is not KEY=VALUE/],
      ]
      await inTurns(cases, 2, async ([args, dir, code, stderr]) => {
        const result = await run(args, {}, dir)
        assert.equal(result.oclif, true, `${args.join(' ')} did not go to oclif`)
        assert.equal(result.code, code, result.stderr)
        assert.match(result.stderr, stderr)
        assert.equal(result.stdout, code === 0 ? '{"Authorization":"Bearer launch-access-token"}\n' : '')
      })
    })
  })
})
