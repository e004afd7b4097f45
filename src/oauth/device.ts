import {setTimeout as delay} from 'node:timers/promises'

import {McpAuthError, ExitCode, unreachableError} from '../errors.js'
import {type ClientCredentials, DEVICE_CODE_GRANT, type TokenSet, parseTokenAnswer} from './client.js'
import {safeForTerminal} from '../output.js'
import {isSecureOrLoopback} from './network.js'
import {type OAuthHttpOptions, numberField, oauthError, oauthFailure, requestOAuth, stringField} from './http.js'

/**
 * The device authorization grant (RFC 8628): show a code and a URL, then poll
 * the token endpoint. GitHub follows the RFC's error names but answers the
 * pending polls with HTTP 200, so errors are read from the body whatever the status.
 */

export interface DeviceFlowOptions {
  deviceEndpoint: string
  tokenEndpoint: string
  client: ClientCredentials
  scope?: string
  /** RFC 8707: the MCP server the token is for, sent with the device authorization and the token requests. */
  resource?: string
  http?: OAuthHttpOptions
  /** Shows the user code and the URL (on stderr). */
  notify: (message: string) => void
  /** Gives up after this long even if the server's code lives longer. */
  overallTimeoutMs?: number
  /** Injected by tests: a fake clock instead of real waiting. */
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  /** Hints for errors a particular server sends (GitHub's device_flow_disabled). */
  explainError?: (error: string) => string | undefined
}

/** RFC 8628 §3.5: 5 seconds when the server gives no interval. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 5
const SLOW_DOWN_STEP_SECONDS = 5
const MIN_POLL_INTERVAL_SECONDS = 1
const MAX_POLL_INTERVAL_SECONDS = 3600
const DEFAULT_OVERALL_TIMEOUT_MS = 15 * 60_000

/**
 * The interval for the next poll: `slow_down` adds 5 s (RFC 8628 §3.5) and
 * the increase is kept for every later poll; GitHub also sends the new
 * interval, which wins when it is longer.
 */
export function nextPollInterval(currentSeconds: number, error: string, serverIntervalSeconds?: number): number {
  if (error !== 'slow_down') return currentSeconds
  return Math.min(MAX_POLL_INTERVAL_SECONDS, Math.max(currentSeconds + SLOW_DOWN_STEP_SECONDS, serverIntervalSeconds ?? 0))
}

/**
 * The interval a device authorization answer names, made safe to wait: none,
 * 0, a negative or a non-number is the RFC's 5 s (a server saying 0 would
 * otherwise be polled in a tight loop), less than a second is a second, and
 * more than an hour is an hour.
 */
export function pollInterval(serverIntervalSeconds: number | undefined): number {
  if (serverIntervalSeconds === undefined || !(serverIntervalSeconds > 0)) return DEFAULT_POLL_INTERVAL_SECONDS
  return Math.min(MAX_POLL_INTERVAL_SECONDS, Math.max(MIN_POLL_INTERVAL_SECONDS, serverIntervalSeconds))
}

export async function runDeviceFlow(options: DeviceFlowOptions): Promise<TokenSet> {
  const sleep = options.sleep ?? ((ms: number) => delay(ms))
  const now = options.now ?? Date.now
  const authorization = await requestOAuth(
    options.deviceEndpoint,
    {form: {client_id: options.client.client_id, client_secret: options.client.client_secret, scope: options.scope, resource: options.resource}},
    options.http,
  )
  const started = oauthError(authorization)
  if (started || authorization.status >= 300) {
    throw oauthFailure(`Starting the device flow at ${new URL(options.deviceEndpoint).origin}`, authorization, started && options.explainError?.(started.error))
  }
  const deviceCode = stringField(authorization.body, 'device_code')
  const userCode = stringField(authorization.body, 'user_code')
  const verificationUri = stringField(authorization.body, 'verification_uri') ?? stringField(authorization.body, 'verification_url')
  if (!deviceCode || !userCode || !verificationUri) {
    throw unreachableError(`${options.deviceEndpoint} answered without device_code, user_code and verification_uri.`, 'Check the server URL.')
  }
  const complete = stringField(authorization.body, 'verification_uri_complete')
  // A person is sent to these: an https page (loopback http in tests), never file: or javascript:.
  for (const [field, uri] of [
    ['verification_uri', verificationUri],
    ['verification_uri_complete', complete],
  ] as const) {
    if (uri !== undefined && !isSecureOrLoopback(uri)) {
      throw unreachableError(
        `${options.deviceEndpoint} answered a ${field} that is not an https URL (${safeForTerminal(uri, {limit: 80})}): refused.`,
        'Check the server URL.',
      )
    }
  }
  // Each piece escaped on its own: the message keeps its own line breaks, a server's text gets none.
  const shown = (text: string) => safeForTerminal(text, {limit: 500})
  options.notify(`To sign in, open ${shown(verificationUri)} and enter the code ${shown(userCode)}${complete ? ` (or open ${shown(complete)})` : ''}.`)

  let intervalSeconds = pollInterval(numberField(authorization.body, 'interval'))
  const expiresInMs = (numberField(authorization.body, 'expires_in') ?? 900) * 1000
  const deadline = now() + Math.min(expiresInMs, options.overallTimeoutMs ?? DEFAULT_OVERALL_TIMEOUT_MS)
  for (;;) {
    if (now() + intervalSeconds * 1000 > deadline) break
    await sleep(intervalSeconds * 1000)
    const poll = await requestOAuth(
      options.tokenEndpoint,
      {
        form: {
          grant_type: DEVICE_CODE_GRANT,
          device_code: deviceCode,
          client_id: options.client.client_id,
          client_secret: options.client.client_secret,
          resource: options.resource,
        },
      },
      options.http,
    )
    const problem = oauthError(poll)
    if (!problem) return parseTokenAnswer(options.tokenEndpoint, poll)
    switch (problem.error) {
      case 'authorization_pending':
        continue
      case 'slow_down':
        intervalSeconds = nextPollInterval(intervalSeconds, problem.error, numberField(poll.body, 'interval'))
        continue
      case 'expired_token':
        throw new McpAuthError(`The code ${userCode} expired before the sign-in was approved.`, {
          code: 'expired_token',
          exitCode: ExitCode.unreachable,
          hint: 'Run the command again and approve within the time shown.',
        })
      case 'access_denied':
        throw new McpAuthError('The sign-in was denied at the authorization server.', {
          code: 'access_denied',
          exitCode: ExitCode.unreachable,
          hint: 'Run the command again and approve the request.',
        })
      default:
        throw oauthFailure('Polling for the device flow token', poll, options.explainError?.(problem.error))
    }
  }
  throw new McpAuthError(`Nobody approved the code ${userCode} in time.`, {
    code: 'device_flow_timeout',
    exitCode: ExitCode.unreachable,
    hint: 'Run the command again and approve the request sooner.',
  })
}
