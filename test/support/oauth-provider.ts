import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

/**
 * A real OAuth authorization server for the tests: oidc-provider, in this
 * process, on a loopback port, with discovery, dynamic registration (and its
 * management), PKCE, the device flow and rotating refresh tokens. It counts the
 * refresh grants that reach its token endpoint, for the race tests.
 */
export interface TestOAuthProvider {
  url: string
  /** Token endpoint requests with grant_type=refresh_token, whatever their outcome. */
  refreshGrants: number
  provider: any
  /** Approves (or denies) a device flow user code as the signed-in user would. */
  approveDevice(userCode: string, options?: {deny?: boolean}): Promise<void>
  /** Whether the access token is active, asked of the provider itself. */
  isActiveAccessToken(token: string): Promise<boolean>
  /** The parameters of every token endpoint request, in order (client secrets included: for assertions only). */
  tokenRequests: Array<Record<string, string>>
  /** The query of every authorization request (GET /auth), in order. */
  authorizationRequests: Array<Record<string, string>>
  /** The device authorization requests (POST /device/auth), in order. */
  deviceRequests: Array<Record<string, string>>
  /** RFC 7592 requests to a client's registration URI: method and client id. */
  registrationRequests: Array<{method: string; clientId: string}>
  /** Revokes a refresh token, as an administrator or the user would: its next use is invalid_grant. */
  revokeRefreshToken(token: string): Promise<void>
  close(): Promise<void>
}

export interface ProviderOptions {
  accessTokenTtl?: number
  /** The poll interval the device authorization answer names (oidc-provider names none, so clients wait the RFC's 5 s). */
  deviceInterval?: number
  /** Answers instead of the provider, e.g. a broken discovery document. */
  intercept?: (request: IncomingMessage, response: ServerResponse) => boolean
  /** Single-use refresh tokens, a new one with every refresh (Keycloak, Atlassian); default true. */
  rotateRefreshToken?: boolean
  /** Fields taken out of the refresh grant's answer: Google sends no refresh_token, some providers no expires_in. */
  refreshAnswerOmits?: ReadonlyArray<'refresh_token' | 'expires_in'>
  /** RFC 8707: tokens asked for a resource are issued for it, as JWTs (aud = the resource) when `jwt`. */
  resourceIndicators?: {jwt: boolean}
  /**
   * Redirect URIs matched exactly, port included, as the gateway does: an
   * authorization request whose redirect_uri the client did not register is
   * answered 400 {"detail": {"error": "invalid_redirect_uri"}} (oidc-provider
   * itself lets a native client's loopback redirect use any port, RFC 8252).
   */
  exactRedirectUris?: boolean
  /** The device flow offered (default true); the gateway offers none. */
  deviceFlow?: boolean
}

export async function startOAuthProvider(options: ProviderOptions = {}): Promise<TestOAuthProvider> {
  silenceProviderNotices()
  const {default: Provider} = (await import('oidc-provider')) as any
  let handler: (request: IncomingMessage, response: ServerResponse) => void = (_, response) => response.writeHead(503).end()
  const server = createServer((request, response) => {
    if (options.intercept?.(request, response)) return
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/auth') {
      context.authorizationRequests.push(Object.fromEntries(url.searchParams))
      if (options.exactRedirectUris) {
        void exactRedirectCheck(url, response).then((refused) => refused || handler(request, response))
        return
      }
    }
    if (url.pathname.startsWith('/reg/') && request.method !== 'POST')
      context.registrationRequests.push({method: request.method ?? 'GET', clientId: decodeURIComponent(url.pathname.slice('/reg/'.length))})
    handler(request, response)
  })
  async function exactRedirectCheck(url: URL, response: ServerResponse): Promise<boolean> {
    const client = await provider.Client.find(url.searchParams.get('client_id') ?? '')
    if (client?.redirectUris.includes(url.searchParams.get('redirect_uri'))) return false
    response.writeHead(400, {'content-type': 'application/json'})
    response.end(JSON.stringify({detail: {error: 'invalid_redirect_uri', error_description: 'Redirect URI not registered'}}))
    return true
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const provider = new Provider(url, {
    cookies: {keys: ['mcpauth-test-cookie-key']},
    clients: [],
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      devInteractions: {enabled: true},
      deviceFlow: {enabled: options.deviceFlow ?? true},
      registration: {enabled: true},
      registrationManagement: {enabled: true, rotateRegistrationAccessToken: false},
      introspection: {enabled: true},
      revocation: {enabled: true},
      resourceIndicators: options.resourceIndicators
        ? {
            enabled: true,
            useGrantedResource: async () => true,
            getResourceServerInfo: async (_ctx: unknown, resource: string) => ({
              scope: 'openid offline_access profile email',
              audience: resource,
              accessTokenFormat: options.resourceIndicators!.jwt ? 'jwt' : 'opaque',
              accessTokenTTL: options.accessTokenTtl ?? 3600,
            }),
          }
        : {enabled: false},
    },
    rotateRefreshToken: options.rotateRefreshToken ?? true,
    ttl: {AccessToken: options.accessTokenTtl ?? 3600, RefreshToken: 86_400, DeviceCode: 600, Grant: 86_400, Interaction: 600, Session: 86_400},
    findAccount: async (_ctx: unknown, sub: string) => ({accountId: sub, claims: async () => ({sub})}),
  })
  const context: TestOAuthProvider = {
    url,
    refreshGrants: 0,
    tokenRequests: [],
    authorizationRequests: [],
    deviceRequests: [],
    registrationRequests: [],
    provider,
    async approveDevice(userCode, approval = {}) {
      const code = await provider.DeviceCode.findByUserCode(userCode.replace(/[^A-Za-z]/g, '').toUpperCase())
      if (!code) throw new Error(`no device code for ${userCode}`)
      if (approval.deny) {
        code.error = 'access_denied'
        code.errorDescription = 'End-User aborted interaction'
      } else {
        const grant = new provider.Grant({accountId: 'alice', clientId: code.clientId})
        grant.addOIDCScope(code.params.scope)
        // What the device interaction does when the user approves a request for a resource (RFC 8707).
        if (code.params.resource) {
          grant.addResourceScope(code.params.resource, code.params.scope)
          code.resource = code.params.resource
        }
        code.grantId = await grant.save()
        code.scope = code.params.scope
        code.accountId = 'alice'
        code.authTime = Math.floor(Date.now() / 1000)
      }
      await code.save()
    },
    async isActiveAccessToken(token) {
      const found = await provider.AccessToken.find(token)
      return Boolean(found && !found.isExpired)
    },
    async revokeRefreshToken(token) {
      const found = await provider.RefreshToken.find(token)
      if (!found) throw new Error('no such refresh token')
      await found.destroy()
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next()
    if (ctx.path === '/device/auth') {
      context.deviceRequests.push(
        Object.fromEntries(Object.entries(ctx.oidc?.params ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
      )
      if (ctx.body && typeof ctx.body === 'object') ctx.body.interval = options.deviceInterval ?? 1
    }
    if (ctx.path !== '/token') return
    const params = Object.fromEntries(Object.entries(ctx.oidc?.params ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
    context.tokenRequests.push(params)
    if (params.grant_type !== 'refresh_token') return
    context.refreshGrants++
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') for (const field of options.refreshAnswerOmits ?? []) delete ctx.body[field]
  })
  handler = provider.callback()
  return context
}

export interface TestLogin {
  client: {client_id: string; client_secret?: string}
  accessToken: string
  refreshToken: string
  expiresIn: number
  tokenEndpoint: string
}

/**
 * A finished sign-in at the provider (a registered client and an approved
 * device flow, asked for `resource` when given), made with plain HTTP
 * requests, so refresh tests start from real tokens without a browser.
 */
export async function signedInLogin(context: TestOAuthProvider, options: {resource?: string} = {}): Promise<TestLogin> {
  const post = async (path: string, body: Record<string, unknown>, json = false): Promise<any> => {
    const response = await fetch(`${context.url}${path}`, {
      method: 'POST',
      headers: {'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded'},
      body: json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>),
    })
    return response.json()
  }
  const client = await post(
    '/reg',
    {
      client_name: 'test',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_method: 'client_secret_post',
      application_type: 'native',
    },
    true,
  )
  const credentials = {client_id: client.client_id, client_secret: client.client_secret}
  const resource: Record<string, string> = options.resource ? {resource: options.resource} : {}
  const device = await post('/device/auth', {...credentials, scope: 'openid offline_access', ...resource})
  await context.approveDevice(device.user_code)
  const tokens = await post('/token', {
    ...credentials,
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: device.device_code,
    ...resource,
  })
  if (!tokens.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(tokens)}`)
  return {
    client: credentials,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresIn: tokens.expires_in,
    tokenEndpoint: `${context.url}/token`,
  }
}

/**
 * A finished MCP client login, as mcp-client-token leaves it in .env, made
 * in-process through the library (registration and an approved device flow),
 * so refresh tests start from real tokens without a sign-in per test.
 */
export async function mcpClientLoginLines(context: TestOAuthProvider): Promise<string[]> {
  const {discoverAuthServer} = await import('../../src/oauth/discovery.js')
  const {registerClient} = await import('../../src/oauth/client.js')
  const {runDeviceFlow} = await import('../../src/oauth/device.js')
  const metadata = await discoverAuthServer(context.url)
  const client = await registerClient(metadata, {clientName: 'test', redirectUris: ['http://127.0.0.1/callback']})
  let userCode = ''
  const tokens = await runDeviceFlow({
    deviceEndpoint: metadata.device_authorization_endpoint!,
    tokenEndpoint: metadata.token_endpoint,
    client,
    scope: 'openid offline_access',
    notify: (message) => (userCode = /enter the code (\S+?)[ .]/.exec(message)![1]),
    sleep: () => context.approveDevice(userCode),
  })
  return [
    `MCP_SERVER_URL=${context.url}`,
    `MCP_CLIENT_ID=${client.client_id}`,
    `MCP_CLIENT_SECRET=${client.client_secret}`,
    `MCP_CLIENT_ACCESS_TOKEN=${tokens.access_token}`,
    `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 0)}`,
    `MCP_CLIENT_REFRESH_TOKEN=${tokens.refresh_token}`,
  ]
}

/**
 * oidc-provider 9 prints "Unsupported runtime" on Node 20 and "development-only"
 * notices about the in-memory adapter and keys this test peer uses on purpose
 * (it runs fine on Node 20: DESIGN.md). They say nothing about mcpauth, so the
 * test output leaves them out; any other console line is kept.
 */
function silenceProviderNotices(): void {
  for (const method of ['warn', 'info'] as const) {
    const original = console[method]
    if ((original as {providerNoticesSilenced?: boolean}).providerNoticesSilenced) continue
    const filtered = (...args: unknown[]): void => {
      if (typeof args[0] === 'string' && /^oidc-provider (WARNING|NOTICE):/.test(args[0])) return
      original.apply(console, args)
    }
    console[method] = Object.assign(filtered, {providerNoticesSilenced: true})
  }
}
