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
  close(): Promise<void>
}

export interface ProviderOptions {
  accessTokenTtl?: number
  /** The poll interval the device authorization answer names (oidc-provider names none, so clients wait the RFC's 5 s). */
  deviceInterval?: number
  /** Answers instead of the provider, e.g. a broken discovery document. */
  intercept?: (request: IncomingMessage, response: ServerResponse) => boolean
}

export async function startOAuthProvider(options: ProviderOptions = {}): Promise<TestOAuthProvider> {
  silenceProviderNotices()
  const {default: Provider} = (await import('oidc-provider')) as any
  let handler: (request: IncomingMessage, response: ServerResponse) => void = (_, response) => response.writeHead(503).end()
  const server = createServer((request, response) => {
    if (options.intercept?.(request, response)) return
    handler(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const provider = new Provider(url, {
    cookies: {keys: ['mcpauth-test-cookie-key']},
    clients: [],
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      devInteractions: {enabled: true},
      deviceFlow: {enabled: true},
      registration: {enabled: true},
      registrationManagement: {enabled: true, rotateRegistrationAccessToken: false},
      introspection: {enabled: true},
      revocation: {enabled: true},
      resourceIndicators: {enabled: false},
    },
    rotateRefreshToken: true,
    ttl: {AccessToken: options.accessTokenTtl ?? 3600, RefreshToken: 86_400, DeviceCode: 600, Grant: 86_400, Interaction: 600, Session: 86_400},
    findAccount: async (_ctx: unknown, sub: string) => ({accountId: sub, claims: async () => ({sub})}),
  })
  const context: TestOAuthProvider = {
    url,
    refreshGrants: 0,
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
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next()
    if (ctx.path === '/device/auth' && ctx.body && typeof ctx.body === 'object') ctx.body.interval = options.deviceInterval ?? 1
    if (ctx.path === '/token' && ctx.oidc?.params?.grant_type === 'refresh_token') context.refreshGrants++
  })
  handler = provider.callback()
  return context
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
