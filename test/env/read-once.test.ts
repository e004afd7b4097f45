import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type CliResult, parseJson, repoRoot, runCli} from '../support/cli.js'

/** Runs mcpauth from bash with `--env-file <(cat .env)`: a pipe that can be read once, as the issue has it. */
function runWithProcessSubstitution(args: string[], cwd: string, env: Record<string, string> = {}, nodeArgs = ['--']): Promise<CliResult> {
  const command = `exec "${process.execPath}" ${nodeArgs.join(' ')} "${join(repoRoot, 'bin', 'run.js')}" ${args.join(' ')} --env-file <(cat .env)`
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], {cwd, env: {PATH: process.env.PATH, HOME: cwd, ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** A .env whose one token expired long ago: a check must find it and exit 3. */
const ENV_TEXT = [
  'BASE_DOMAIN=example.com',
  'MCP_CLIENT_ACCESS_TOKEN=opaque-token-value-0123456789',
  'MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=1000',
  'GITHUB_CLIENT_ID=Iv1.0123456789abcdef',
  '',
].join('\n')

/** The parts of an answer that do not depend on when or from where it ran. */
const stable = (report: any) => ({
  ...report,
  env_file: undefined,
  checked_at: undefined,
  tokens: report.tokens.map((token: any) => ({...token, seconds_left: undefined})),
})

describe('.env is read once per command', () => {
  // `--env-file <(cat .env)` is a pipe: whatever reads it second gets nothing.
  it('check-token-expiry --env-file <(cat .env) answers as it does on the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-read-once-'))
    await writeFile(join(dir, '.env'), ENV_TEXT, {mode: 0o600})
    const fromFile = await runCli(['check-token-expiry', '--json'], {cwd: dir})
    assert.equal(fromFile.code, 3, fromFile.stderr)
    const fromPipe = await runWithProcessSubstitution(['check-token-expiry', '--json'], dir)
    assert.equal(fromPipe.code, 3, fromPipe.stdout + fromPipe.stderr)
    assert.deepEqual(stable(parseJson(fromPipe)), stable(parseJson(fromFile)))
    assert.equal(parseJson(fromPipe).tokens[0].name, 'MCP_CLIENT_ACCESS_TOKEN')
  })

  it('doctor --env-file <(cat .env) checks the same settings and tokens as on the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-read-once-'))
    await writeFile(join(dir, '.env'), ENV_TEXT, {mode: 0o600})
    const env = {REDIS_URL: 'redis://127.0.0.1:1/0'}
    const statuses = (result: {stdout: string}) =>
      Object.fromEntries(
        parseJson<any>(result as any)
          .checks.filter((check: any) => check.check !== '.env file')
          .map((check: any) => [check.check, check.status]),
      )
    const fromFile = await runCli(['doctor', '--json'], {cwd: dir, env})
    const fromPipe = await runWithProcessSubstitution(['doctor', '--json'], dir, env)
    assert.equal(fromPipe.code, fromFile.code, fromPipe.stderr)
    assert.deepEqual(statuses(fromPipe), statuses(fromFile))
    assert.equal(statuses(fromPipe).BASE_DOMAIN, 'ok')
  })

  it('mcp-headers --env-file <(cat .env) prints the headers, and says what went wrong when Node read the pipe first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-read-once-'))
    const payload = Buffer.from(JSON.stringify({sub: '1', exp: Math.floor(Date.now() / 1000) + 86_400})).toString('base64url')
    const token = `eyJhbGciOiJub25lIn0.${payload}.c2ln`
    await writeFile(join(dir, '.env'), `BASE_DOMAIN=example.com\nMCP_CLIENT_ACCESS_TOKEN=${token}\n`, {mode: 0o600})
    const fromPipe = await runWithProcessSubstitution(['mcp-headers'], dir)
    assert.equal(fromPipe.code, 0, fromPipe.stderr)
    assert.deepEqual(JSON.parse(fromPipe.stdout), {Authorization: `Bearer ${token}`})
    // Without `--`, Node 20 takes --env-file as its own option too and empties the pipe before mcpauth reads it
    // (a Node that leaves it to the script gives the headers).
    const withoutSeparator = await runWithProcessSubstitution(['mcp-headers'], dir, {}, [])
    if (withoutSeparator.code === 0) assert.deepEqual(JSON.parse(withoutSeparator.stdout), {Authorization: `Bearer ${token}`})
    else {
      assert.equal(withoutSeparator.code, 4)
      assert.equal(withoutSeparator.stdout, '')
      assert.match(withoutSeparator.stderr, /Node 20 reads that pipe itself first; start it as `mcpauth …` or `node -- bin\/run\.js …`/)
    }
  })
})
