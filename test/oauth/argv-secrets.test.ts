import {strict as assert} from 'node:assert'
import {chmod, mkdtemp, readFile, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {registerClient} from '../../src/oauth/client.js'
import {discoverAuthServer} from '../../src/oauth/discovery.js'
import {signInThroughPages} from '../support/browser.js'
import {runCli, startCli} from '../support/cli.js'
import {startFakeGithub} from '../support/github-oauth-server.js'
import {type TestOAuthProvider, startOAuthProvider} from '../support/oauth-provider.js'

/** Secrets an operator's .env holds besides the login under test; none may reach any process's argv. */
const OTHER_SECRETS = {
  GATEWAY_JWT_SECRET: 'argv-test-jwt-secret-5c1f0e9a7b3d4c2e8f6a0b1c3d5e7f9a',
  REDIS_PASSWORD: 'argv-test-redis-password-0f1e2d3c4b5a',
  GITHUB_CLIENT_SECRET: 'argv-test-github-client-secret-9a8b7c6d5e4f',
  GITHUB_PAT: 'ghp_argvtestpersonalaccesstoken0123456789',
  GATEWAY_OAUTH_REFRESH_TOKEN: 'argv-test-gateway-refresh-token-00112233445566',
}

/** A browser opener that only writes down the arguments it was given, one file per call. */
async function fakeOpenerDir(): Promise<{path: string; calls: () => Promise<string[][]>}> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-opener-'))
  const log = join(dir, 'calls')
  const script = `#!/bin/sh\nprintf '%s\\0' "$@" > "${log}.$$"\nmv "${log}.$$" "${log}-$$"\n`
  for (const name of ['xdg-open', 'open']) {
    await writeFile(join(dir, name), script)
    await chmod(join(dir, name), 0o755)
  }
  return {
    path: dir,
    calls: async () => {
      const files = (await readdir(dir)).filter((name) => name.startsWith('calls-'))
      return Promise.all(files.map(async (file) => (await readFile(join(dir, file), 'utf8')).split('\0').slice(0, -1)))
    },
  }
}

/** Every command line on this machine, read from /proc, again and again until stopped. */
function watchCommandLines(): {stop: () => Promise<Set<string>>} {
  const seen = new Set<string>()
  let watching = true
  const loop = (async () => {
    while (watching) {
      for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
        if (cmdline) seen.add(cmdline.split('\0').join(' '))
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  return {
    stop: async () => {
      watching = false
      await loop
      return seen
    },
  }
}

function assertNoSecretIn(commandLines: Iterable<string>, secrets: Record<string, string>): void {
  for (const line of commandLines) {
    for (const [name, value] of Object.entries(secrets)) assert.ok(!line.includes(value), `${name} in the argv of a process: ${line.slice(0, 200)}`)
  }
}

describe('no secret in the argv of any process', function () {
  this.timeout(60_000)
  let provider: TestOAuthProvider

  before(async () => {
    provider = await startOAuthProvider()
  })
  after(async () => provider.close())

  it('mcp-client-token gives the browser opener the authorization URL only, and no process ever holds a secret in its argv', async () => {
    const client = await registerClient(await discoverAuthServer(provider.url), {clientName: 'argv test', redirectUris: ['http://127.0.0.1/callback']})
    const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-argv-'))
    const envLines = [
      `MCP_SERVER_URL=${provider.url}`,
      `MCP_CLIENT_ID=${client.client_id}`,
      `MCP_CLIENT_SECRET=${client.client_secret}`,
      ...Object.entries(OTHER_SECRETS).map(([name, value]) => `${name}=${value}`),
    ]
    await writeFile(join(cwd, '.env'), `${envLines.join('\n')}\n`, {mode: 0o600})
    const opener = await fakeOpenerDir()
    const watcher = watchCommandLines()

    // DISPLAY makes it a desktop, where the browser is opened; the fake opener comes first on PATH.
    const cli = await startCli(['mcp-client-token', '--force'], {cwd, env: {PATH: `${opener.path}:${process.env.PATH}`, DISPLAY: ':0'}})
    const [, printedUrl] = await cli.waitForStderr(/^(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m)
    let calls: string[][] = []
    for (let waited = 0; calls.length === 0 && waited < 10_000; waited += 50) {
      calls = await opener.calls()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.deepEqual(calls, [[printedUrl]], 'the opener got the URL on stderr, as its one argument')

    const authorization = new URL(printedUrl)
    assert.equal(authorization.searchParams.get('client_id'), client.client_id)
    assert.equal(authorization.searchParams.get('code_challenge_method'), 'S256')
    assert.ok(authorization.searchParams.get('state') && authorization.searchParams.get('code_challenge'))
    for (const forbidden of ['client_secret', 'code_verifier', 'refresh_token', 'access_token'])
      assert.equal(authorization.searchParams.has(forbidden), false, `${forbidden} in the URL`)

    const redirected = await signInThroughPages(printedUrl, {stopAt: authorization.searchParams.get('redirect_uri')!})
    assert.equal((await fetch(redirected)).status, 200)
    cli.endInput()
    const result = await cli.done
    const commandLines = await watcher.stop()
    assert.equal(result.code, 0, result.stderr)

    const saved = parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values
    const secrets = {
      ...OTHER_SECRETS,
      MCP_CLIENT_SECRET: client.client_secret!,
      MCP_CLIENT_ACCESS_TOKEN: saved.get('MCP_CLIENT_ACCESS_TOKEN')!,
      MCP_CLIENT_REFRESH_TOKEN: saved.get('MCP_CLIENT_REFRESH_TOKEN')!,
    }
    assert.ok(secrets.MCP_CLIENT_ACCESS_TOKEN && secrets.MCP_CLIENT_REFRESH_TOKEN, 'the sign-in saved its tokens')
    assertNoSecretIn(calls.flat(), secrets)
    assert.ok(
      [...commandLines].some((line) => line.includes('mcp-client-token')),
      'the watch saw the command itself',
    )
    assertNoSecretIn(commandLines, secrets)
  })

  it('generate-github-token --browser opens GitHub without GITHUB_CLIENT_SECRET in the URL', async () => {
    const github = await startFakeGithub()
    try {
      const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-argv-'))
      const envLines = [
        `GITHUB_BASE_URL=${github.url}`,
        'GITHUB_CLIENT_ID=Iv1.argvtestclient',
        ...Object.entries(OTHER_SECRETS).map(([name, value]) => `${name}=${value}`),
      ]
      await writeFile(join(cwd, '.env'), `${envLines.join('\n')}\n`, {mode: 0o600})
      const opener = await fakeOpenerDir()
      const watcher = watchCommandLines()
      // Nobody signs in: the command gives up after --login-timeout, having opened the browser.
      const result = await runCli(['generate-github-token', '--github-only', '--browser', '--force', '--login-timeout', '3s'], {
        cwd,
        env: {PATH: `${opener.path}:${process.env.PATH}`, DISPLAY: ':0'},
      })
      const commandLines = await watcher.stop()
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /No sign-in within 3s/)
      const calls = await opener.calls()
      assert.equal(calls.length, 1, JSON.stringify(calls))
      const [url] = calls[0]
      assert.equal(calls[0].length, 1)
      assert.equal(new URL(url).origin + new URL(url).pathname, `${github.url}/login/oauth/authorize`)
      assert.equal(new URL(url).searchParams.get('client_id'), 'Iv1.argvtestclient')
      assertNoSecretIn(calls.flat(), OTHER_SECRETS)
      assertNoSecretIn(commandLines, OTHER_SECRETS)
    } finally {
      await github.close()
    }
  })
})
