import type {IncomingMessage, ServerResponse} from 'node:http'
import {randomBytes} from 'node:crypto'

import {type LoopbackServer, startLoopbackServer} from './loopback-http.js'

/**
 * GitHub's OAuth endpoints as documented for GitHub Apps with expiring user
 * tokens: the device flow (/login/device/code, polls at
 * /login/oauth/access_token answered with HTTP 200 and an `error` while
 * pending), `slow_down` with a new `interval`, form-encoded answers unless the
 * request says `Accept: application/json`, and ghu_ tokens (8 h) with a
 * single-use ghr_ refresh token.
 */
export interface FakeGithub extends LoopbackServer {
  /** Refresh grants received, spent or not. */
  refreshGrants: number
  /** Accept headers of the token requests, to check every one asked for JSON. */
  acceptHeaders: string[]
  /** Device polls answered so far. */
  polls: number
}

export interface FakeGithubOptions {
  clientId?: string
  clientSecret?: string
  deviceFlowDisabled?: boolean
  /** Polls answered authorization_pending before the approval. */
  pendingPolls?: number
  /** The poll (1-based) answered slow_down with interval + 5. */
  slowDownAtPoll?: number
  /** The interval the device code answer names (default 1 s: what the RFC allows at least, for quick tests). */
  interval?: number
  /** Fields set in (or, when undefined, taken out of) the device code answer: a hostile GitHub. */
  deviceAnswer?: Record<string, unknown>
  /** Fields set in the token answer, e.g. an access token with a line break. */
  tokenAnswer?: Record<string, unknown>
}

export const GITHUB_TOKEN_LIFETIME = 28_800
export const GITHUB_REFRESH_LIFETIME = 15_897_600

export async function startFakeGithub(options: FakeGithubOptions = {}): Promise<FakeGithub> {
  const clientId = options.clientId ?? 'Iv1.testclientid'
  const liveRefreshTokens = new Set<string>()
  let interval = options.interval ?? 1
  let fake!: FakeGithub
  const server = await startLoopbackServer((request, response) => {
    void readForm(request).then((form) => {
      const answer = (body: Record<string, unknown>, status = 200) => respond(request, response, status, body)
      if (request.url === '/login/device/code' && request.method === 'POST') {
        if (form.client_id !== clientId) return answer({error: 'Not Found'}, 404)
        if (options.deviceFlowDisabled)
          return answer(
            {error: 'device_flow_disabled', error_description: 'Device Flow must be explicitly enabled for this App', error_uri: 'https://docs.github.com'},
            400,
          )
        const body: Record<string, unknown> = {
          device_code: 'dc_3584d83530557fdd1f46af8289938c8ef79f9dc5',
          user_code: 'WDJB-MJHT',
          verification_uri: `${fake.url}/login/device`,
          expires_in: 900,
          interval,
          ...options.deviceAnswer,
        }
        for (const [name, value] of Object.entries(body)) if (value === undefined) delete body[name]
        return answer(body)
      }
      if (request.url === '/login/oauth/access_token' && request.method === 'POST') {
        fake.acceptHeaders.push(String(request.headers.accept))
        if (form.client_id !== clientId)
          return answer({error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.'})
        if (form.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
          fake.polls++
          if (fake.polls === options.slowDownAtPoll) {
            interval += 5
            return answer({error: 'slow_down', error_description: 'Too many requests have been made in the same timeframe.', interval})
          }
          if (fake.polls <= (options.pendingPolls ?? 0))
            return answer({error: 'authorization_pending', error_description: 'The authorization request is still pending.'})
          return answer({...issueTokens(liveRefreshTokens), ...options.tokenAnswer})
        }
        if (form.grant_type === 'refresh_token') {
          fake.refreshGrants++
          if (options.clientSecret && form.client_secret !== options.clientSecret) return answer({error: 'incorrect_client_credentials'})
          if (!liveRefreshTokens.delete(form.refresh_token))
            return answer({error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.'})
          return answer(issueTokens(liveRefreshTokens))
        }
        return answer({error: 'unsupported_grant_type'})
      }
      answer({message: 'Not Found'}, 404)
    })
  })
  fake = Object.assign(server, {refreshGrants: 0, acceptHeaders: [], polls: 0})
  return fake
}

function issueTokens(liveRefreshTokens: Set<string>): Record<string, unknown> {
  const refreshToken = `ghr_${randomBytes(38).toString('base64url').replace(/[-_]/g, 'x').slice(0, 76)}`
  liveRefreshTokens.add(refreshToken)
  return {
    access_token: `ghu_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`,
    expires_in: GITHUB_TOKEN_LIFETIME,
    refresh_token: refreshToken,
    refresh_token_expires_in: GITHUB_REFRESH_LIFETIME,
    scope: '',
    token_type: 'bearer',
  }
}

/** GitHub answers form-encoded unless the client asks for JSON. */
function respond(request: IncomingMessage, response: ServerResponse, status: number, body: Record<string, unknown>): void {
  if ((request.headers.accept ?? '').includes('application/json')) {
    response.writeHead(status, {'Content-Type': 'application/json; charset=utf-8'})
    response.end(JSON.stringify(body))
    return
  }
  response.writeHead(status, {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
  response.end(new URLSearchParams(Object.entries(body).map(([key, value]) => [key, String(value)])).toString())
}

async function readForm(request: IncomingMessage): Promise<Record<string, string>> {
  let text = ''
  for await (const chunk of request) text += chunk
  if ((request.headers['content-type'] ?? '').includes('application/json')) return text ? (JSON.parse(text) as Record<string, string>) : {}
  return Object.fromEntries(new URLSearchParams(text))
}
