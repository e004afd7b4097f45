import {Flags} from '@oclif/core'

import {parseDuration} from '../src/duration.js'
import {usageError} from '../src/errors.js'
import {gatewayIssuer, gatewaySigningKey} from '../src/jwt-keys.js'
import {formatTime, isoTime} from '../src/output.js'
import {mintAccessToken, parseCustomClaims, saveTokenToEnvFile} from '../src/token-mint.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'

export interface MintReport {
  jti: string
  username: string
  sub: string
  client_id: string
  scope: string
  expires_at: string
  /** The .env file the token was written to; null with --print. */
  saved_to: string | null
  env_key: string | null
  /** Only with --print. */
  token?: string
}

const MINTED_TOKEN_KEY = 'MCP_CLIENT_ACCESS_TOKEN'

export default class McpClientToken extends BaseCommand<typeof McpClientToken> {
  static override summary = 'Get an access token for an MCP client; --mint signs one with the gateway key (CI, no browser)'
  static override description = `--mint signs a JWT exactly as the gateway's token endpoint does (JWT_ALGORITHM with JWT_PRIVATE_KEY_B64 or
GATEWAY_JWT_SECRET; claims sub, username, email, name, scope, client_id, jti, iat, exp, iss and aud; extra claims from
TOKEN_CUSTOM_CLAIMS, which may not replace those), writes its oauth:token:{jti} record with a TTL of the token's lifetime
and adds the jti to oauth:user_tokens:{username}, so the gateway accepts it. The lifetime is ACCESS_TOKEN_LIFETIME
(default 24h) or --ttl. The token is saved to .env as ${MINTED_TOKEN_KEY}, other lines untouched; if that fails the
Redis record is removed again. --print writes it to stdout instead and changes no file.
Without --mint this command will run the OAuth flow against the gateway; that flow is not available yet.`
  static override examples = [
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
    name: Flags.string({summary: 'The name claim (default null).'}),
    scope: Flags.string({summary: 'The scope claim.', default: 'openid profile email'}),
    'client-id': Flags.string({summary: 'The client_id claim and record field.', default: 'mcpauth-mint'}),
    ttl: Flags.string({summary: 'Lifetime: 3600, 90m, 2h, 7d (default ACCESS_TOKEN_LIFETIME).', helpValue: 'DURATION'}),
    print: Flags.boolean({summary: `Print the token on stdout instead of saving it as ${MINTED_TOKEN_KEY}.`}),
  }

  async run(): Promise<MintReport> {
    const {flags} = this
    if (!flags.mint) {
      throw usageError(
        'The interactive OAuth flow for MCP clients is not available yet.',
        'Use --mint --username LOGIN to sign a token with the gateway key (needs JWT_PRIVATE_KEY_B64 or GATEWAY_JWT_SECRET, and Redis).',
      )
    }
    if (!flags.username) throw usageError('--mint needs --username: the GitHub login the token is for.')
    const settings = await this.settings()
    // Every setting is checked before Redis is touched, so a bad one changes nothing anywhere.
    const signing = {key: gatewaySigningKey(settings), issuer: gatewayIssuer(settings)}
    const lifetimeSeconds = flags.ttl === undefined ? settings.lifetime('ACCESS_TOKEN_LIFETIME') : parseDuration(flags.ttl, '--ttl')
    const customClaims = parseCustomClaims(settings.get('TOKEN_CUSTOM_CLAIMS'))
    const store = await this.tokenStore()
    const request = {
      sub: flags.sub ?? flags.username,
      username: flags.username,
      email: flags.email ?? null,
      name: flags.name ?? null,
      scope: flags.scope,
      clientId: flags['client-id'],
      lifetimeSeconds,
      customClaims,
    }
    const minted = await mintAccessToken(store.redis, signing, request, async ({token}) =>
      flags.print ? undefined : saveTokenToEnvFile(settings.envFilePath, MINTED_TOKEN_KEY, token),
    )
    const where = flags.print ? 'printed on stdout' : `saved as ${MINTED_TOKEN_KEY} in ${settings.envFilePath}`
    this.note(`Minted an access token for ${request.username} (client ${request.clientId}, jti ${minted.jti}), valid until ${formatTime(minted.record.expires_at)}; ${where}.`)
    if (flags.print && !this.jsonEnabled()) this.log(minted.token)
    return {
      jti: minted.jti,
      username: request.username,
      sub: request.sub,
      client_id: request.clientId,
      scope: request.scope,
      expires_at: isoTime(minted.record.expires_at)!,
      saved_to: flags.print ? null : settings.envFilePath,
      env_key: flags.print ? null : MINTED_TOKEN_KEY,
      ...(flags.print ? {token: minted.token} : {}),
    }
  }
}
