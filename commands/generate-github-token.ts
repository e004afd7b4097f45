import {Flags} from '@oclif/core'

import {parseDuration} from '../src/time.js'
import {readEnvFile, updateEnvFile} from '../src/env/env-file.js'
import {explainGithubError, githubClient, githubMetadata} from '../src/oauth/github.js'
import type {TokenSet} from '../src/oauth/client.js'
import type {ClientRedirect} from '../src/oauth/client-redirect.js'
import type {Settings} from '../src/env/settings.js'
import {discoverAuthServer, gatewayAuthServerUrl} from '../src/oauth/discovery.js'
import {runDeviceFlow} from '../src/oauth/device.js'
import {GATEWAY_LOGIN, GITHUB_LOGIN, type LoginKeys, runOAuthLogin, tokenExpiresAt, tokenUpdates} from '../src/oauth/login.js'
import {canOpenBrowser, pastedInput, runAuthorizationCodeFlow, startLoopbackReceiver} from '../src/oauth/pkce.js'
import {formatTime, isoTime} from '../src/output.js'
import {savedExpiry} from '../src/refresh/refresh.js'
import {BaseCommand} from './_shared/base-command.js'
import {httpOptions, oauthHttpFlags} from './_shared/oauth-flags.js'

export interface LoginStep {
  status: 'signed_in' | 'kept' | 'skipped'
  flow: 'device' | 'authorization_code' | null
  expires_at: string | null
  has_refresh_token: boolean
}

export interface GithubTokenReport {
  saved_to: string
  github: LoginStep
  gateway: LoginStep & {client_id: string | null; client_registered: boolean; client_redirect: ClientRedirect | null}
}

/** A saved token with less than this left is replaced rather than kept. */
const KEEP_MARGIN_SECONDS = 300

export default class GenerateGithubToken extends BaseCommand<typeof GenerateGithubToken> {
  static override summary = 'Sign in to GitHub (device flow, or --browser) and to the gateway; save the tokens in .env'
  static override description =
    `First GitHub, with the gateway's GitHub App or OAuth App (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET): the device flow by default (a code to enter at github.com/login/device, from any device), or the web flow with --browser (PKCE, redirect caught on http://127.0.0.1:<port>/callback, which the app's callback URL must allow). Saved as GITHUB_PAT; expiring GitHub App tokens (ghu_, 8 h) also save GITHUB_PAT_EXPIRES_AT, GITHUB_REFRESH_TOKEN (ghr_, single use) and GITHUB_REFRESH_TOKEN_EXPIRES_AT, which refresh-tokens uses. Then the gateway: its OAuth client is registered once (GATEWAY_OAUTH_CLIENT_ID, _SECRET, GATEWAY_OAUTH_REGISTRATION_TOKEN, _URI and GATEWAY_OAUTH_REDIRECT_URI) and re-used with the redirect URI it registered (or, when that port is taken, its registration updated by RFC 7592 or a new client registered), and the sign-in (the device flow when the gateway offers it, else the browser) saves GATEWAY_OAUTH_ACCESS_TOKEN and GATEWAY_OAUTH_REFRESH_TOKEN. The gateway is GATEWAY_AUTH_URL or https://auth.$BASE_DOMAIN; --github-only skips it. A still-valid token is kept unless --force. GitHub Enterprise: set GITHUB_BASE_URL (default https://github.com) and GITHUB_API_URL. Codes and URLs go to stderr, tokens only to .env.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --browser',
    '<%= config.bin %> <%= command.id %> --github-only --force',
    'GITHUB_BASE_URL=https://github.example.com <%= config.bin %> <%= command.id %> --json',
  ]

  static override flags = {
    ...oauthHttpFlags,
    browser: Flags.boolean({summary: 'Sign in to GitHub with the web flow in a browser instead of the device flow.'}),
    'no-browser': Flags.boolean({summary: 'Never open a browser: print URLs and read a redirected URL from stdin.'}),
    'github-only': Flags.boolean({summary: 'Only the GitHub token; skip the gateway sign-in.'}),
    scope: Flags.string({summary: 'GitHub scopes for an OAuth App (GitHub Apps ignore them).', default: 'read:user user:email'}),
    'login-timeout': Flags.string({summary: 'How long to wait for each sign-in to be completed.', default: '10m', helpValue: 'DURATION'}),
    force: Flags.boolean({summary: 'Sign in again even when the saved tokens are still valid.'}),
  }

  async run(): Promise<GithubTokenReport> {
    const settings = await this.settings()
    const envFilePath = settings.envFilePath
    const github = await this.githubStep(envFilePath)
    let gateway: GithubTokenReport['gateway'] = {
      status: 'skipped',
      flow: null,
      expires_at: null,
      has_refresh_token: false,
      client_id: null,
      client_registered: false,
      client_redirect: null,
    }
    if (!this.flags['github-only']) {
      const values = (await readEnvFile(envFilePath)).values
      if (this.stillValid(values, GATEWAY_LOGIN)) {
        gateway = {...keptStep(values, GATEWAY_LOGIN), client_id: values.get(GATEWAY_LOGIN.clientId) ?? null, client_registered: false, client_redirect: null}
      } else {
        const result = await runOAuthLogin({
          envFilePath,
          keys: GATEWAY_LOGIN,
          authServerUrl: gatewayAuthServerUrl(settings),
          clientName: 'mcpauth gateway operator',
          device: await this.gatewayOffersDevice(settings),
          openBrowser: !this.headless(),
          pasted: pastedInput(),
          notify: (message) => this.note(message),
          loginTimeoutMs: this.loginTimeoutMs(),
          http: httpOptions(this.flags),
        })
        this.note(`Signed in to the gateway at ${result.auth_server}; saved GATEWAY_OAUTH_ACCESS_TOKEN in ${envFilePath}.`)
        gateway = {
          status: 'signed_in',
          flow: result.flow,
          expires_at: isoTime(result.expires_at),
          has_refresh_token: result.has_refresh_token,
          client_id: result.client_id,
          client_registered: result.client_registered,
          client_redirect: result.client_redirect,
        }
      }
    }
    return {saved_to: envFilePath, github, gateway}
  }

  private async githubStep(envFilePath: string): Promise<LoginStep> {
    const values = (await readEnvFile(envFilePath)).values
    if (this.stillValid(values, GITHUB_LOGIN)) return keptStep(values, GITHUB_LOGIN)
    const settings = await this.settings()
    const metadata = githubMetadata(settings)
    const client = githubClient(settings)
    const http = httpOptions(this.flags)
    let tokens: TokenSet
    if (this.flags.browser) {
      const receiver = await startLoopbackReceiver()
      try {
        tokens = await runAuthorizationCodeFlow({
          metadata,
          client,
          receiver,
          scope: this.flags.scope,
          openBrowser: !this.headless(),
          pasted: pastedInput(),
          notify: (message) => this.note(message),
          loginTimeoutMs: this.loginTimeoutMs(),
          http,
        })
      } finally {
        await receiver.close()
      }
    } else {
      // The device flow needs only the client id; the secret stays out of requests that do not need it.
      tokens = await runDeviceFlow({
        deviceEndpoint: metadata.device_authorization_endpoint!,
        tokenEndpoint: metadata.token_endpoint,
        client: {client_id: client.client_id},
        scope: this.flags.scope,
        http,
        notify: (message) => this.note(message),
        overallTimeoutMs: this.loginTimeoutMs(),
        explainError: explainGithubError,
      })
    }
    const now = Math.floor(Date.now() / 1000)
    await updateEnvFile(envFilePath, () => tokenUpdates(GITHUB_LOGIN, tokens, now))
    const expiresAt = tokenExpiresAt(tokens, now)
    this.note(
      `Saved the GitHub token as GITHUB_PAT in ${envFilePath}${expiresAt ? ` (expires ${formatTime(expiresAt)}; GITHUB_REFRESH_TOKEN renews it)` : ''}.`,
    )
    return {
      status: 'signed_in',
      flow: this.flags.browser ? 'authorization_code' : 'device',
      expires_at: isoTime(expiresAt),
      has_refresh_token: tokens.refresh_token !== undefined,
    }
  }

  private stillValid(values: ReadonlyMap<string, string>, keys: LoginKeys): boolean {
    if (this.flags.force || !values.get(keys.accessToken)) return false
    const expiresAt = savedExpiry(values, keys.accessToken)
    const valid = expiresAt === null || expiresAt - Date.now() / 1000 > KEEP_MARGIN_SECONDS
    if (valid)
      this.note(`Kept ${keys.accessToken} (${expiresAt === null ? 'no expiry known' : `valid until ${formatTime(expiresAt)}`}); --force signs in again.`)
    return valid
  }

  private async gatewayOffersDevice(settings: Settings): Promise<boolean> {
    return Boolean((await discoverAuthServer(gatewayAuthServerUrl(settings), httpOptions(this.flags))).device_authorization_endpoint)
  }

  private headless(): boolean {
    return this.flags['no-browser'] || !canOpenBrowser()
  }

  private loginTimeoutMs(): number {
    return parseDuration(this.flags['login-timeout'], '--login-timeout') * 1000
  }
}

function keptStep(values: ReadonlyMap<string, string>, keys: LoginKeys): LoginStep {
  return {status: 'kept', flow: null, expires_at: isoTime(savedExpiry(values, keys.accessToken)), has_refresh_token: Boolean(values.get(keys.refreshToken))}
}
