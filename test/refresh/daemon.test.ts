import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {mkdir, mkdtemp, readFile, rename, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'

import {parseEnvText} from '../../src/env/env-file.js'
import {retryDelay} from '../../src/refresh/daemon.js'
import {type RunningCli, runCli, startCli} from '../support/cli.js'
import {type TestOAuthProvider, mcpClientLoginLines, startOAuthProvider} from '../support/oauth-provider.js'

/** Access tokens live 4 s and are refreshed when 2 s are left, checked every second: a refresh every ~2 s. */
const ACCESS_TOKEN_TTL = 4
const DAEMON_ARGS = ['refresh-tokens', '--watch', '--interval', '1', '--buffer', '2', '--timeout', '2s']

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(100)
  }
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'])
  await new Promise((resolve) => child.on('close', resolve))
  return child.pid!
}

describe('refresh-tokens --watch', function () {
  this.timeout(90_000)
  let provider: TestOAuthProvider
  /** While set, the provider's connections are cut as soon as they arrive: a server that is down. */
  let providerDown = false
  /** While set, token requests wait this long before the provider answers. */
  let tokenEndpointDelayMs = 0
  let tokenRequestsSeen = 0

  before(async () => {
    provider = await startOAuthProvider({
      accessTokenTtl: ACCESS_TOKEN_TTL,
      intercept(request, response) {
        if (providerDown) {
          request.socket.destroy()
          return true
        }
        if (request.url?.startsWith('/token')) {
          tokenRequestsSeen++
          if (tokenEndpointDelayMs > 0) {
            const answer = (provider.provider as any).callback()
            setTimeout(() => answer(request, response), tokenEndpointDelayMs)
            return true
          }
        }
        return false
      },
    })
  })
  after(async () => provider.close())
  afterEach(() => {
    providerDown = false
    tokenEndpointDelayMs = 0
  })

  async function loggedInDirectory(): Promise<{cwd: string; envPath: string; logPath: string; secrets: () => Promise<string[]>}> {
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-daemon-'))
    const envPath = join(cwd, '.env')
    await writeFile(envPath, [...(await mcpClientLoginLines(provider)), ''].join('\n'), {mode: 0o600})
    const secrets = async () =>
      [...parseEnvText(await readFile(envPath, 'utf8')).values.values()].filter((value) => value.length > 20 && !value.startsWith('http'))
    return {cwd, envPath, logPath: join(cwd, 'refresh.log'), secrets}
  }

  async function stop(daemon: RunningCli, signal: NodeJS.Signals = 'SIGTERM') {
    daemon.kill(signal)
    return daemon.done
  }

  it('refreshes on every check, logs without secrets, holds a PID file and stops cleanly on SIGTERM', async () => {
    const {cwd, envPath, logPath, secrets} = await loggedInDirectory()
    const seenSecrets = new Set(await secrets())
    const grantsBefore = provider.refreshGrants
    const daemon = await startCli([...DAEMON_ARGS, '--log-file', logPath], {cwd})
    await waitFor('two refreshes', () => provider.refreshGrants >= grantsBefore + 2)
    assert.equal((await readFile(`${envPath}.refresh.pid`, 'utf8')).trim(), String(daemon.pid))
    for (const secret of await secrets()) seenSecrets.add(secret)

    const result = await stop(daemon)
    assert.equal(result.code, 0, result.stderr)
    await assert.rejects(stat(`${envPath}.refresh.pid`), {code: 'ENOENT'})
    const token = parseEnvText(await readFile(envPath, 'utf8')).values.get('MCP_CLIENT_ACCESS_TOKEN')!
    assert.equal(await provider.isActiveAccessToken(token), true)

    const log = await readFile(logPath, 'utf8')
    assert.equal((await stat(logPath)).mode & 0o777, 0o600)
    assert.match(log, /^\S+Z INFO {2}started: PID \d+, .*\.env, every 1s, refreshing what expires within 2s$/m)
    assert.match(log, /INFO {2}check: 1 refreshable, 1 due$/m)
    assert.match(log, /INFO {2}refreshed MCP_CLIENT_ACCESS_TOKEN: valid until \S+Z, refresh token rotated$/m)
    // SIGTERM may land in the middle of a check: its lines can come between these two.
    assert.match(
      log,
      /INFO {2}SIGTERM received: stopping after the current step[^\n]*\n(?:.*\n)*.*INFO {2}stopped \(SIGTERM\) after \d+ checks, \d+ refreshes, 0 failures\n$/,
    )
    assert.doesNotMatch(log, /DEBUG/, 'debug lines are below the default level')
    for (const secret of seenSecrets) {
      assert.ok(![log, result.stdout, result.stderr].some((text) => text.includes(secret)), 'a token or secret was logged')
    }
    assert.equal(result.stderr, '', 'with --log-file nothing goes to stderr')
  })

  it('rewrites the configuration files mcp-config wrote with the token, keeping the entries it did not write', async () => {
    const {cwd, envPath} = await loggedInDirectory()
    const cursorConfig = join(cwd, '.cursor', 'mcp.json')
    await mkdir(dirname(cursorConfig))
    await writeFile(cursorConfig, JSON.stringify({mcpServers: {mine: {url: 'https://example.com/mcp'}}}))
    const configured = await runCli(['mcp-config', '--client', 'cursor', '--server', `fetch=${provider.url}/fetch/mcp`], {cwd})
    assert.equal(configured.code, 0, configured.stderr)
    const authorization = async () => (JSON.parse(await readFile(cursorConfig, 'utf8')) as any).mcpServers.fetch.headers.Authorization
    const savedToken = async () => parseEnvText(await readFile(envPath, 'utf8')).values.get('MCP_CLIENT_ACCESS_TOKEN')
    const firstToken = await savedToken()
    assert.equal(await authorization(), `Bearer ${firstToken}`)

    const daemon = await startCli(DAEMON_ARGS, {cwd})
    await daemon.waitForStderr(/INFO {2}rewrote the cursor configuration \S+ with the new token/)
    const result = await stop(daemon)
    assert.equal(result.code, 0, result.stderr)
    const currentToken = await savedToken()
    assert.notEqual(currentToken, firstToken)
    assert.equal(await authorization(), `Bearer ${currentToken}`)
    const config = JSON.parse(await readFile(cursorConfig, 'utf8'))
    assert.deepEqual(config.mcpServers.mine, {url: 'https://example.com/mcp'})
    assert.equal((await stat(cursorConfig)).mode & 0o777, 0o600)
  })

  it('keeps running while the provider is down, retrying, and refreshes once it is back', async () => {
    const {cwd} = await loggedInDirectory()
    providerDown = true
    const daemon = await startCli([...DAEMON_ARGS, '--log-level', 'debug'], {cwd})
    await daemon.waitForStderr(
      /WARN {2}refreshing MCP_CLIENT_ACCESS_TOKEN failed, will retry: .*\n(?:.*\n)*?.*WARN {2}refreshing MCP_CLIENT_ACCESS_TOKEN failed, will retry/,
    )
    assert.match(daemon.stderrSoFar(), /DEBUG next check in 1s/)
    const grantsWhileDown = provider.refreshGrants
    providerDown = false
    await waitFor('a refresh after the provider came back', () => /INFO {2}refreshed MCP_CLIENT_ACCESS_TOKEN/.test(daemon.stderrSoFar()))
    assert.ok(provider.refreshGrants > grantsWhileDown)
    const result = await stop(daemon, 'SIGINT')
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /stopped \(SIGINT\)/)
  })

  it('finishes a refresh under way before stopping, so the rotated refresh token is saved', async () => {
    const {cwd, envPath} = await loggedInDirectory()
    const before = parseEnvText(await readFile(envPath, 'utf8')).values
    tokenEndpointDelayMs = 1500
    const requestsBefore = tokenRequestsSeen
    const daemon = await startCli(DAEMON_ARGS, {cwd})
    await waitFor('the token request', () => tokenRequestsSeen > requestsBefore)
    const result = await stop(daemon)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /SIGTERM received[^\n]*\n(?:.*\n)*.*refreshed MCP_CLIENT_ACCESS_TOKEN/)
    const after = parseEnvText(await readFile(envPath, 'utf8')).values
    assert.notEqual(after.get('MCP_CLIENT_REFRESH_TOKEN'), before.get('MCP_CLIENT_REFRESH_TOKEN'))
    assert.equal(await provider.isActiveAccessToken(after.get('MCP_CLIENT_ACCESS_TOKEN')!), true)
  })

  it('stops at once on a second SIGTERM while a refresh hangs, exit 130, PID file removed', async () => {
    const {cwd, envPath} = await loggedInDirectory()
    tokenEndpointDelayMs = 20_000
    const requestsBefore = tokenRequestsSeen
    const daemon = await startCli(
      DAEMON_ARGS.map((arg) => (arg === '2s' ? '30s' : arg)),
      {cwd},
    )
    await waitFor('the token request', () => tokenRequestsSeen > requestsBefore)
    daemon.kill('SIGTERM')
    await daemon.waitForStderr(/SIGTERM received: stopping after the current step/)
    const result = await stop(daemon)
    assert.equal(result.code, 130, result.stderr)
    assert.match(result.stderr, /WARN {2}SIGTERM received again: stopping now; a refresh under way is abandoned/)
    await assert.rejects(stat(`${envPath}.refresh.pid`), {code: 'ENOENT'})
  })

  it('keeps running when SIGHUP cannot reopen a log file that was moved away, and reopens it when it can', async () => {
    const {cwd} = await loggedInDirectory()
    const logDirectory = join(cwd, 'logs')
    await mkdir(logDirectory)
    const logPath = join(logDirectory, 'refresh.log')
    const daemon = await startCli([...DAEMON_ARGS, '--log-file', logPath], {cwd})
    await waitFor('the first check in the log', async () => (await readFile(logPath, 'utf8').catch(() => '')).includes('check:'))
    await rename(logPath, `${logPath}.1`)
    daemon.kill('SIGHUP')
    await waitFor('a new log file', async () => (await readFile(logPath, 'utf8').catch(() => '')).includes('check:'))

    await rename(logDirectory, `${logDirectory}.gone`)
    daemon.kill('SIGHUP')
    await waitFor('the warning in the file still open', async () =>
      (await readFile(join(`${logDirectory}.gone`, 'refresh.log'), 'utf8')).includes('WARN  could not reopen'),
    )
    const result = await stop(daemon)
    assert.equal(result.code, 0, result.stderr)
    assert.match(await readFile(join(`${logDirectory}.gone`, 'refresh.log'), 'utf8'), /INFO {2}stopped \(SIGTERM\)/)
  })

  it('refuses a second daemon on the same .env, and takes over a PID file whose process is gone', async () => {
    const {cwd, envPath} = await loggedInDirectory()
    const stalePid = await deadPid()
    await writeFile(`${envPath}.refresh.pid`, `${stalePid}\n`)
    const first = await startCli(DAEMON_ARGS, {cwd})
    await first.waitForStderr(new RegExp(`WARN  took over .*\\.env\\.refresh\\.pid from PID ${stalePid}, which is no longer running`))
    await first.waitForStderr(/INFO {2}started/)

    const second = await runCli(DAEMON_ARGS, {cwd})
    assert.equal(second.code, 4)
    assert.equal(
      second.stderr,
      `Error: Another refresh daemon (PID ${first.pid}) is already running for this .env: ${envPath}.refresh.pid is held.\nHint: Stop it first (kill ${first.pid}), or give this one its own .env.\n`,
    )
    assert.equal((await readFile(`${envPath}.refresh.pid`, 'utf8')).trim(), String(first.pid))

    assert.equal((await stop(first)).code, 0)
  })

  it('takes over a PID file naming a live process that is not an mcpauth daemon (a reused PID)', async () => {
    const {cwd, envPath} = await loggedInDirectory()
    const unrelated = spawn('sleep', ['60'])
    try {
      await writeFile(`${envPath}.refresh.pid`, `${unrelated.pid}\n`)
      const daemon = await startCli(DAEMON_ARGS, {cwd})
      await daemon.waitForStderr(new RegExp(`took over .* from PID ${unrelated.pid}`))
      assert.equal((await stop(daemon)).code, 0)
    } finally {
      unrelated.kill()
    }
  })

  it('rejects daemon flags without --watch and a bad interval, with a usage error', async () => {
    const withoutWatch = await runCli(['refresh-tokens', '--interval', '5m'])
    assert.equal(withoutWatch.code, 2)
    assert.match(withoutWatch.stderr, /--watch/)
    const {cwd} = await loggedInDirectory()
    const badInterval = await runCli(['refresh-tokens', '--watch', '--interval', 'soon'], {cwd})
    assert.equal(badInterval.code, 2)
    assert.match(badInterval.stderr, /^Error: --interval must be a duration such as 3600, 90m, 2h or 1d, not "soon"\./)
    const badEnvInterval = await runCli(['refresh-tokens', '--watch'], {cwd, env: {TOKEN_REFRESH_INTERVAL: 'often'}})
    assert.equal(badEnvInterval.code, 2)
    assert.match(badEnvInterval.stderr, /TOKEN_REFRESH_INTERVAL must be a duration/)
    const zeroInterval = await runCli(['refresh-tokens', '--watch', '--interval', '0'], {cwd})
    assert.equal(zeroInterval.code, 2)
    assert.match(zeroInterval.stderr, /^Error: --interval must be at least 1s\./)
    // A missing directory is made (0700); a file where a directory must be is the machine's fault: exit 4, one line.
    await writeFile(join(cwd, 'not-a-dir'), '')
    const badLogFile = await runCli(['refresh-tokens', '--watch', '--log-file', join(cwd, 'not-a-dir', 'logs', 'refresh.log')], {cwd})
    assert.equal(badLogFile.code, 4, badLogFile.stderr)
    assert.match(badLogFile.stderr, /^Error: Cannot create the directory .*not-a-dir\/logs: a part of the path is a file, not a directory \(ENOTDIR\)\.\n/)
    await assert.rejects(stat(join(cwd, '.env.refresh.pid')), {code: 'ENOENT'})
  })
})

describe('refresh daemon backoff', () => {
  it('retries after 10 s, then doubles, never waiting longer than the interval', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((failures) => retryDelay(failures, 300)),
      [10, 20, 40, 80, 160, 300, 300],
    )
    assert.deepEqual(
      [1, 2, 3].map((failures) => retryDelay(failures, 25)),
      [10, 20, 25],
    )
    assert.deepEqual(
      [1, 5].map((failures) => retryDelay(failures, 1)),
      [1, 1],
    )
  })
})
