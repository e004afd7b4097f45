import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parseEnvText} from '../../src/env/env-file.js'
import {nextPollInterval, runDeviceFlow} from '../../src/oauth/device.js'
import {parseJson, runCli, startCli} from '../support/cli.js'
import {GITHUB_TOKEN_LIFETIME, startFakeGithub} from '../support/github-oauth-server.js'
import {startOAuthProvider} from '../support/oauth-provider.js'

const CLIENT_ID = 'Iv1.testclientid'

async function envDirWith(lines: string[]): Promise<string> {
  const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-github-'))
  await writeFile(join(cwd, '.env'), [...lines, ''].join('\n'), {mode: 0o600})
  return cwd
}

const envValues = async (cwd: string) => parseEnvText(await readFile(join(cwd, '.env'), 'utf8')).values

describe('generate-github-token', function () {
  this.timeout(30_000)

  it('signs in to GitHub by the device flow through pending polls and saves GITHUB_PAT, its expiry and the ghr_ refresh token', async () => {
    const github = await startFakeGithub({pendingPolls: 2})
    try {
      const cwd = await envDirWith([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
      const result = await runCli(['generate-github-token', '--github-only', '--json'], {cwd})
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stderr, new RegExp(`open ${github.url}/login/device and enter the code WDJB-MJHT`))
      const report = parseJson(result)
      assert.deepEqual(report.github.status, 'signed_in')
      assert.equal(report.gateway.status, 'skipped')
      const values = await envValues(cwd)
      assert.match(values.get('GITHUB_PAT')!, /^ghu_/)
      assert.match(values.get('GITHUB_REFRESH_TOKEN')!, /^ghr_/)
      assert.ok(Math.abs(Number(values.get('GITHUB_PAT_EXPIRES_AT')) - (Date.now() / 1000 + GITHUB_TOKEN_LIFETIME)) < 30)
      assert.ok(values.get('GITHUB_REFRESH_TOKEN_EXPIRES_AT'))
      assert.equal(github.polls, 3)
      assert.ok(
        github.acceptHeaders.every((accept) => accept === 'application/json'),
        github.acceptHeaders.join(),
      )
      assert.ok(!result.stdout.includes(values.get('GITHUB_PAT')!) && !result.stderr.includes(values.get('GITHUB_PAT')!))

      const kept = await runCli(['generate-github-token', '--github-only', '--json'], {cwd})
      assert.equal(parseJson(kept).github.status, 'kept')
      assert.equal(github.polls, 3)
    } finally {
      await github.close()
    }
  })

  it('tells the operator to enable device flow in the app settings when GitHub says device_flow_disabled (exit 4)', async () => {
    const github = await startFakeGithub({deviceFlowDisabled: true})
    try {
      const cwd = await envDirWith([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`])
      const before = await readFile(join(cwd, '.env'), 'utf8')
      const result = await runCli(['generate-github-token', '--github-only'], {cwd})
      assert.equal(result.code, 4)
      assert.match(result.stderr, /device_flow_disabled.*\nHint: Enable "Device Flow" in the settings of the GitHub App/)
      assert.equal(await readFile(join(cwd, '.env'), 'utf8'), before)
    } finally {
      await github.close()
    }
  })

  it('adds 5 s to the poll interval on slow_down and keeps it for later polls', async () => {
    assert.equal(nextPollInterval(5, 'slow_down'), 10)
    assert.equal(nextPollInterval(10, 'authorization_pending'), 10)
    assert.equal(nextPollInterval(5, 'slow_down', 12), 12)
    const github = await startFakeGithub({interval: 1, slowDownAtPoll: 2, pendingPolls: 3})
    try {
      const waits: number[] = []
      let clock = 0
      const tokens = await runDeviceFlow({
        deviceEndpoint: `${github.url}/login/device/code`,
        tokenEndpoint: `${github.url}/login/oauth/access_token`,
        client: {client_id: CLIENT_ID},
        notify: () => {},
        now: () => clock,
        sleep: async (ms) => {
          waits.push(ms)
          clock += ms
        },
      })
      assert.match(tokens.access_token, /^ghu_/)
      assert.deepEqual(waits, [1000, 1000, 6000, 6000])
    } finally {
      await github.close()
    }
  })

  it("reads GitHub's form-encoded answers too", async () => {
    const {requestOAuth} = await import('../../src/oauth/http.js')
    const github = await startFakeGithub()
    try {
      // Without Accept: application/json GitHub answers form-encoded; raw fetch shows it, requestOAuth parses either.
      const raw = await fetch(`${github.url}/login/oauth/access_token`, {method: 'POST', body: new URLSearchParams({client_id: 'wrong'})})
      assert.match(raw.headers.get('content-type')!, /x-www-form-urlencoded/)
      assert.equal(new URLSearchParams(await raw.text()).get('error'), 'incorrect_client_credentials')
      const parsed = await requestOAuth(`${github.url}/login/oauth/access_token`, {form: {client_id: 'wrong'}})
      assert.equal(parsed.body.error, 'incorrect_client_credentials')
    } finally {
      await github.close()
    }
  })

  it('refresh-tokens renews an expiring GitHub token with its single-use ghr_ token, and a spent one asks for a new login', async () => {
    const github = await startFakeGithub()
    try {
      const cwd = await envDirWith([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`, 'GITHUB_CLIENT_SECRET=app-secret'])
      assert.equal((await runCli(['generate-github-token', '--github-only'], {cwd})).code, 0)
      const first = await envValues(cwd)
      const refreshed = await runCli(['refresh-tokens', '--force', '--json'], {cwd})
      assert.equal(refreshed.code, 0, refreshed.stderr)
      assert.deepEqual(
        parseJson(refreshed).tokens.map((token: any) => [token.name, token.status, token.refresh_token_rotated]),
        [['GITHUB_PAT', 'refreshed', true]],
      )
      const second = await envValues(cwd)
      assert.notEqual(second.get('GITHUB_PAT'), first.get('GITHUB_PAT'))
      assert.notEqual(second.get('GITHUB_REFRESH_TOKEN'), first.get('GITHUB_REFRESH_TOKEN'))

      await writeFile(
        join(cwd, '.env'),
        (await readFile(join(cwd, '.env'), 'utf8')).replace(second.get('GITHUB_REFRESH_TOKEN')!, first.get('GITHUB_REFRESH_TOKEN')!),
      )
      const before = await readFile(join(cwd, '.env'), 'utf8')
      const spent = await runCli(['refresh-tokens', '--force'], {cwd})
      assert.equal(spent.code, 4)
      assert.match(
        spent.stderr,
        /GITHUB_REFRESH_TOKEN was refused \(bad_refresh_token\).*a new login is needed\.\nHint: run mcpauth generate-github-token --force/,
      )
      assert.equal(await readFile(join(cwd, '.env'), 'utf8'), before)
      assert.equal(github.refreshGrants, 2)
    } finally {
      await github.close()
    }
  })

  it('then registers the gateway client and signs in to the gateway by its device flow, saving GATEWAY_OAUTH_*', async () => {
    const github = await startFakeGithub()
    const gateway = await startOAuthProvider()
    try {
      const cwd = await envDirWith([`GITHUB_BASE_URL=${github.url}`, `GITHUB_CLIENT_ID=${CLIENT_ID}`, `GATEWAY_AUTH_URL=${gateway.url}`])
      const cli = await startCli(['generate-github-token', '--json'], {cwd})
      cli.endInput()
      const [, userCode] = await cli.waitForStderr(/open http:\/\/127\.0\.0\.1:\d+\/device and enter the code (\S+?)[ .]/)
      await gateway.approveDevice(userCode)
      const result = await cli.done
      assert.equal(result.code, 0, result.stderr)
      const report = parseJson(result)
      assert.equal(report.gateway.status, 'signed_in')
      assert.equal(report.gateway.client_registered, true)
      const values = await envValues(cwd)
      for (const key of [
        'GATEWAY_OAUTH_CLIENT_ID',
        'GATEWAY_OAUTH_CLIENT_SECRET',
        'GATEWAY_OAUTH_ACCESS_TOKEN',
        'GATEWAY_OAUTH_REFRESH_TOKEN',
        'GATEWAY_OAUTH_REGISTRATION_TOKEN',
        'GATEWAY_OAUTH_REGISTRATION_URI',
      ]) {
        assert.ok(values.get(key), `${key} was not saved`)
      }
      assert.equal(await gateway.isActiveAccessToken(values.get('GATEWAY_OAUTH_ACCESS_TOKEN')!), true)
    } finally {
      await github.close()
      await gateway.close()
    }
  })
})
