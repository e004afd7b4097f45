import {Flags} from '@oclif/core'

import {parseDuration} from '../src/time.js'
import {readEnvFile, updateEnvFile} from '../src/env/env-file.js'
import {usageError} from '../src/errors.js'
import {gatewayIssuer, gatewaySigningKey} from '../src/jwt/gateway-keys.js'
import {findMcpAuthServer, gatewayAuthServerUrl} from '../src/oauth/discovery.js'
import type {ClientRedirect} from '../src/oauth/client-redirect.js'
import {MCP_CLIENT_LOGIN, runOAuthLogin} from '../src/oauth/login.js'
import {canonicalResourceUri} from '../src/oauth/resource.js'
import {canOpenBrowser, pastedInput} from '../src/oauth/pkce.js'
import {formatTime, isoTime} from '../src/output.js'
import {type GatewayVersion, mintAccessToken, parseCustomClaims, saveTokenToEnvFile} from '../src/jwt/mint.js'
import {gatewayVersionFor} from '../src/jwt/gateway-version.js'
import type {Settings} from '../src/env/settings.js'
import {useHandRegisteredClient} from '../src/logins/login-storage.js'
import {readSecretReference, signInNamedLogin} from '../src/logins/sign-in.js'
import {savedExpiry} from '../src/refresh/refresh.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {httpOptions, loginFlags} from './_shared/oauth-flags.js'

export interface MintReport {
  jti: string
  username: string
  sub: string
  client_id: string
  scope: string
  /** The aud claim: the issuer, or on a newer gateway the resource(s) given with --resource. */
  audience: string | string[]
  gateway_version: GatewayVersion
  expires_at: string
  /** The .env file the token was written to; null with --print. */
  saved_to: string | null
  env_key: string | null
  /** Only with --print. */
  token?: string
}

export interface LoginReport {
  /** signed_in: a new token was saved; kept: the saved one is still valid (--force signs in anyway). */
  status: 'signed_in' | 'kept'
  saved_to: string
  auth_server: string | null
  client_id: string | null
  client_registered: boolean
  /** How the browser sign-in's client and redirect URI were settled: registered, reused, updated, replaced, unchecked; null otherwise. */
  client_redirect: ClientRedirect | null
  flow: 'device' | 'authorization_code' | null
  expires_at: string | null
  has_refresh_token: boolean
}

const MINTED_TOKEN_KEY = 'MCP_CLIENT_ACCESS_TOKEN'
const DEFAULT_MINT_SCOPE = 'openid profile email'
const DEFAULT_MINT_CLIENT_ID = 'mcpauth-mint'
/** A saved token with less than this left is replaced rather than kept. */
const KEEP_MARGIN_SECONDS = 300

export default class McpClientToken extends BaseCommand<typeof McpClientToken> {
  static override summary = 'Get an access token for an MCP client; --mint signs one with the gateway key (CI, no browser)'
  static override description =
    `--mint signs a JWT exactly as the gateway's token endpoint does (JWT_ALGORITHM with JWT_PRIVATE_KEY_B64 or GATEWAY_JWT_SECRET; claims sub, username, email, name, scope, client_id, jti, iat, exp, iss and aud, which is the issuer on the older gateway and on the newer one (OAUTH_* settings) the --resource URL(s), with azp = the client id and the resources kept in the record; the version is told by the .env's spelling, else the gateway's metadata (resource_indicators_supported), or --gateway-version; extra claims from TOKEN_CUSTOM_CLAIMS, which may not replace those), writes its oauth:token:{jti} record with a TTL of the token's lifetime and adds the jti to oauth:user_tokens:{username}, so the gateway accepts it. The lifetime is ACCESS_TOKEN_LIFETIME (default 24h) or --ttl. The token is saved to .env as ${MINTED_TOKEN_KEY}, other lines untouched; if that fails the Redis record is removed again. --print writes it to stdout instead and changes no file.

Without --mint it signs in by OAuth against the MCP server in --server-url or MCP_SERVER_URL (its auth server found through /.well-known/oauth-protected-resource, else its origin; without either, the gateway's auth server GATEWAY_AUTH_URL or https://auth.$BASE_DOMAIN): metadata discovery, a client registered once (RFC 7591) and re-used from .env (MCP_CLIENT_ID, MCP_CLIENT_SECRET, MCP_CLIENT_REGISTRATION_TOKEN, MCP_CLIENT_REGISTRATION_URI, MCP_CLIENT_REDIRECT_URI: the gateway matches redirect URIs exactly, so a later sign-in listens on the registered port again, or when it is taken updates the registration by RFC 7592 or registers a new client, and says which), then the browser flow (PKCE, redirect caught on http://127.0.0.1:<port>/callback; with --no-browser or over SSH paste the redirected URL on stdin) or, with --device, the device flow; the MCP server's canonical URI is sent as the RFC 8707 resource. MCP_CLIENT_ACCESS_TOKEN and MCP_CLIENT_REFRESH_TOKEN are saved (and MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT when the token is not a JWT; MCP_SERVER_URL from --server-url when .env has none, so refresh-tokens finds the server again). A still-valid token is kept unless --force. URLs and codes go to stderr; tokens only to .env.

--name NAME signs in a login of its own, beside the MCP client's, at an MCP server (--server-url) or any OAuth or OpenID provider (--issuer URL, found through /.well-known/oauth-authorization-server or /.well-known/openid-configuration), with a client registered dynamically or, for providers that do not allow it, given by hand (--client-id, and --client-secret env:VAR or file:PATH: never the secret itself on the command line). It is kept in .env as NAME_ACCESS_TOKEN, NAME_REFRESH_TOKEN, NAME_CLIENT_ID, NAME_CLIENT_SECRET, NAME_TOKEN_ENDPOINT, NAME_ISSUER (and NAME_SERVER_URL, NAME_RESOURCE for an MCP server), or with --tokens-dir DIR as DIR/NAME-egress.json in the registry's egress format (access_token, refresh_token, expires_at, token_type, scope, token_endpoint, issuer, client_id), written atomically with mode 0600, its other fields kept; the client secret then stays in .env and the file names its key (client_secret_env). Later sign-ins and refresh-tokens need only the name.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --server-url https://mcp-fetch.example.com/mcp',
    '<%= config.bin %> <%= command.id %> --device',
    '<%= config.bin %> <%= command.id %> --no-browser --force',
    '<%= config.bin %> <%= command.id %> --name atlassian --issuer https://auth.atlassian.com --client-id abc123 --client-secret env:ATLASSIAN_APP_SECRET --scope "read:jira-work offline_access"',
    '<%= config.bin %> <%= command.id %> --name keycloak --issuer https://sso.example.com/realms/mcp --scope "openid offline_access" --tokens-dir .oauth-tokens --device',
    '<%= config.bin %> <%= command.id %> --mint --username ci-bot',
    '<%= config.bin %> <%= command.id %> --mint --username alice --sub 1234567 --email alice@example.com --ttl 2h',
    '<%= config.bin %> <%= command.id %> --mint --username ci-bot --client-id client_ci --scope "openid profile" --json',
    'TOKEN=$(<%= config.bin %> <%= command.id %> --mint --username ci-bot --ttl 15m --print)',
  ]

  static override flags = {
    ...redisFlags,
    mint: Flags.boolean({summary: 'Sign a token with the gateway key and register it in Redis (no browser).'}),
    username: Flags.string({summary: 'GitHub login the token is for (required with --mint).', helpValue: 'LOGIN'}),
    sub: Flags.string({summary: 'The sub claim: the GitHub numeric user id, as the gateway sets it (default: the username).', helpValue: 'ID'}),
    email: Flags.string({summary: 'The email claim (default null, as for a GitHub user without a public email).'}),
    ...loginFlags,
    'server-url': Flags.string({summary: 'The MCP server to get a token for (default MCP_SERVER_URL).', helpValue: 'URL', helpGroup: 'OAUTH'}),
    name: Flags.string({
      summary:
        "With --mint, the name claim (default null). Otherwise a login of its own under this name, at any OAuth provider, kept beside the MCP client's: NAME_* keys in .env, or a file with --tokens-dir.",
      helpValue: 'NAME',
    }),
    issuer: Flags.string({
      summary: 'With --name: a plain OAuth or OpenID provider, found by its RFC 8414 or /.well-known/openid-configuration metadata.',
      helpValue: 'URL',
      dependsOn: ['name'],
      exclusive: ['server-url', 'mint'],
      helpGroup: 'LOGINS',
    }),
    'tokens-dir': Flags.string({
      summary: "With --name: keep the login in DIR/NAME-egress.json (the registry's egress format) instead of .env; its client secret stays in .env.",
      helpValue: 'DIR',
      dependsOn: ['name'],
      exclusive: ['mint'],
      helpGroup: 'LOGINS',
    }),
    'client-secret': Flags.string({
      summary: 'With --client-id: where its secret is, env:VAR or file:PATH (never the secret itself).',
      helpValue: 'env:VAR|file:PATH',
      dependsOn: ['client-id'],
      exclusive: ['mint'],
      helpGroup: 'LOGINS',
    }),
    scope: Flags.string({summary: `Scopes: the scope claim with --mint (default "${DEFAULT_MINT_SCOPE}"), else what to ask the server for.`}),
    'client-id': Flags.string({
      summary: `With --mint, the client_id claim and record field (default ${DEFAULT_MINT_CLIENT_ID}); when signing in, a client registered by hand with the provider, used instead of dynamic registration.`,
    }),
    ttl: Flags.string({summary: 'Lifetime: 3600, 90m, 2h, 7d (default ACCESS_TOKEN_LIFETIME).', helpValue: 'DURATION'}),
    print: Flags.boolean({summary: `Print the token on stdout instead of saving it as ${MINTED_TOKEN_KEY}.`}),
    resource: Flags.string({
      summary: 'With --mint: the MCP server the token is for (RFC 8707), its aud on a newer gateway. Repeatable.',
      helpValue: 'URL',
      multiple: true,
      dependsOn: ['mint'],
    }),
    'gateway-version': Flags.string({
      summary:
        "With --mint: the token shape of the gateway in use. newer (OAUTH_* settings): aud = the resources, azp = the client id, resources kept in the record; older: neither. auto tells them apart by the .env's spelling, else the gateway's metadata.",
      options: ['auto', 'older', 'newer'],
      default: 'auto',
    }),
  }

  async run(): Promise<MintReport | LoginReport> {
    const {flags} = this
    if (!flags.mint) return flags.name ? this.signInNamed(flags.name) : this.signIn()
    if (!flags.username) throw usageError('--mint needs --username: the GitHub login the token is for.')
    const settings = await this.settings()
    // Every setting is checked before Redis is touched, so a bad one changes nothing anywhere.
    const signing = {key: gatewaySigningKey(settings), issuer: gatewayIssuer(settings)}
    const lifetimeSeconds = flags.ttl === undefined ? settings.lifetime('ACCESS_TOKEN_LIFETIME') : parseDuration(flags.ttl, '--ttl')
    const customClaims = parseCustomClaims(settings.get('TOKEN_CUSTOM_CLAIMS'))
    const shape = await gatewayVersionFor(settings, flags['gateway-version'] as GatewayVersion | 'auto', httpOptions(flags))
    const store = await this.tokenStore()
    const request = {
      sub: flags.sub ?? flags.username,
      username: flags.username,
      email: flags.email ?? null,
      name: flags.name ?? null,
      scope: flags.scope ?? DEFAULT_MINT_SCOPE,
      clientId: flags['client-id'] ?? DEFAULT_MINT_CLIENT_ID,
      lifetimeSeconds,
      customClaims,
      gatewayVersion: shape.version,
      resources: flags.resource?.map(canonicalResourceUri),
    }
    const minted = await mintAccessToken(store.redis, signing, request, async ({token}) =>
      flags.print ? undefined : saveTokenToEnvFile(settings.envFilePath, MINTED_TOKEN_KEY, token),
    )
    const where = flags.print ? 'printed on stdout' : `saved as ${MINTED_TOKEN_KEY} in ${settings.envFilePath}`
    this.note(
      `Minted an access token for ${request.username} (client ${request.clientId}, jti ${minted.jti}, shaped for the ${shape.version} gateway: ${shape.why}), valid until ${formatTime(minted.record.expires_at)}; ${where}.`,
    )
    if (flags.print && !this.jsonEnabled()) this.log(minted.token)
    return {
      jti: minted.jti,
      username: request.username,
      sub: request.sub,
      client_id: request.clientId,
      scope: request.scope,
      audience: minted.claims.aud as string | string[],
      gateway_version: shape.version,
      expires_at: isoTime(minted.record.expires_at)!,
      saved_to: flags.print ? null : settings.envFilePath,
      env_key: flags.print ? null : MINTED_TOKEN_KEY,
      ...(flags.print ? {token: minted.token} : {}),
    }
  }

  private async signIn(): Promise<LoginReport> {
    const {flags} = this
    const settings = await this.settings()
    const current = await readEnvFile(settings.envFilePath)
    const savedUntil = savedExpiry(current.values, MCP_CLIENT_LOGIN.accessToken)
    const hasToken = Boolean(current.values.get(MCP_CLIENT_LOGIN.accessToken))
    if (hasToken && !flags.force && (savedUntil === null || savedUntil - Date.now() / 1000 > KEEP_MARGIN_SECONDS)) {
      const until = savedUntil === null ? 'its expiry is unknown' : `valid until ${formatTime(savedUntil)}`
      this.note(`Kept the MCP_CLIENT_ACCESS_TOKEN in ${settings.envFilePath} (${until}); --force signs in again.`)
      return {
        status: 'kept',
        saved_to: settings.envFilePath,
        auth_server: null,
        client_id: current.values.get(MCP_CLIENT_LOGIN.clientId) ?? null,
        client_registered: false,
        client_redirect: null,
        flow: null,
        expires_at: isoTime(savedUntil),
        has_refresh_token: Boolean(current.values.get(MCP_CLIENT_LOGIN.refreshToken)),
      }
    }
    const http = httpOptions(flags)
    const serverUrl = flags['server-url'] ?? settings.get('MCP_SERVER_URL')
    const found = serverUrl ? await findMcpAuthServer(serverUrl, http) : {authServerUrl: gatewayAuthServerUrl(settings), resource: undefined}
    // RFC 8707, as the MCP authorization spec asks: the server's canonical URI, named by its metadata or not.
    const resource = found.resource ?? (serverUrl ? canonicalResourceUri(serverUrl) : undefined)
    const {authServerUrl} = found
    const headless = flags['no-browser'] || !canOpenBrowser()
    const client = await this.handRegisteredClient(settings)
    if (client) await useHandRegisteredClient(settings.envFilePath, MCP_CLIENT_LOGIN, client)
    const result = await runOAuthLogin({
      envFilePath: settings.envFilePath,
      keys: MCP_CLIENT_LOGIN,
      authServerUrl,
      clientName: 'mcpauth MCP client',
      resource,
      scope: flags.scope,
      device: flags.device,
      openBrowser: !headless,
      pasted: pastedInput(),
      notify: (message) => this.note(message),
      loginTimeoutMs: parseDuration(flags['login-timeout'], '--login-timeout') * 1000,
      http,
    })
    // refresh-tokens finds the auth server again through MCP_SERVER_URL.
    if (flags['server-url'] && !current.values.get('MCP_SERVER_URL')) await updateEnvFile(settings.envFilePath, () => ({MCP_SERVER_URL: flags['server-url']!}))
    this.note(
      `Signed in at ${result.auth_server}; saved MCP_CLIENT_ACCESS_TOKEN${result.has_refresh_token ? ' and MCP_CLIENT_REFRESH_TOKEN' : ''} in ${settings.envFilePath}${result.expires_at ? ` (valid until ${formatTime(result.expires_at)})` : ''}.`,
    )
    return {status: 'signed_in', saved_to: settings.envFilePath, ...result, expires_at: isoTime(result.expires_at)}
  }

  private async signInNamed(name: string): Promise<LoginReport> {
    const {flags} = this
    const settings = await this.settings()
    const result = await signInNamedLogin({
      name,
      envFilePath: settings.envFilePath,
      tokensDir: flags['tokens-dir'],
      serverUrl: flags['server-url'],
      issuer: flags.issuer,
      client: await this.handRegisteredClient(settings),
      scope: flags.scope,
      force: flags.force,
      device: flags.device,
      openBrowser: !(flags['no-browser'] || !canOpenBrowser()),
      pasted: pastedInput(),
      notify: (message) => this.note(message),
      loginTimeoutMs: parseDuration(flags['login-timeout'], '--login-timeout') * 1000,
      http: httpOptions(flags),
    })
    if (result.status === 'kept') {
      const {saved} = result
      const until = saved.expiresAt === null ? 'its expiry is unknown' : `valid until ${formatTime(saved.expiresAt)}`
      this.note(`Kept the ${name} login in ${result.saved_to} (${until}); --force signs in again.`)
      return {
        status: 'kept',
        saved_to: result.saved_to,
        auth_server: saved.issuer ?? null,
        client_id: saved.clientId ?? null,
        client_registered: false,
        client_redirect: null,
        flow: null,
        expires_at: isoTime(saved.expiresAt),
        has_refresh_token: saved.hasRefreshToken,
      }
    }
    const {login} = result
    this.note(
      `Signed in ${name} at ${login.auth_server}; saved in ${result.saved_to}${login.expires_at ? ` (valid until ${formatTime(login.expires_at)})` : ''}${login.has_refresh_token ? '' : '; the server gave no refresh token, so it cannot be refreshed'}.`,
    )
    return {status: 'signed_in', saved_to: result.saved_to, ...login, expires_at: isoTime(login.expires_at)}
  }

  /** --client-id (and --client-secret) when signing in: a client the operator registered with the provider. */
  private async handRegisteredClient(settings: Settings): Promise<{client_id: string; client_secret?: string} | undefined> {
    const clientId = this.flags['client-id']
    if (!clientId) return undefined
    const secret = this.flags['client-secret']
    return {client_id: clientId, client_secret: secret === undefined ? undefined : await readSecretReference(secret, settings, '--client-secret')}
  }
}
