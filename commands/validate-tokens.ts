import {Flags} from '@oclif/core'

import type {Settings} from '../src/env/settings.js'
import {ExitCode, usageError} from '../src/errors.js'
import {DEFAULT_GITHUB_API_URL} from '../src/oauth/github-token.js'
import type {VerificationKey} from '../src/jwt/codec.js'
import {gatewayVerificationKey} from '../src/jwt/gateway-keys.js'
import {formatRelative, formatTime, isoTime} from '../src/output.js'
import {renderTable} from '../src/table.js'
import {toEpochSeconds} from '../src/time.js'
import {EXPIRES_AT_SUFFIX} from '../src/jwt/expiry.js'
import {type NamedToken, type TokenValidation, validateToken} from '../src/jwt/validation.js'
import {canonicalResourceUri} from '../src/oauth/resource.js'
import {BaseCommand, redisFlags} from './_shared/base-command.js'
import {readSecretFromStdin} from './_shared/stdin.js'
import {plural} from './_shared/summaries.js'

export interface ValidationReport {
  valid: number
  invalid: number
  tokens: Array<Omit<TokenValidation, 'expires_at'> & {expires_at: string | null}>
}

/** Checked when neither --token-env nor --stdin names what to check. */
const DEFAULT_TOKEN_NAMES = ['GATEWAY_OAUTH_ACCESS_TOKEN', 'MCP_CLIENT_ACCESS_TOKEN', 'GITHUB_PAT']
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export default class ValidateTokens extends BaseCommand<typeof ValidateTokens> {
  static override summary = 'Verify tokens as the gateway would: signature, iss, exp, jti and the Redis record'
  static override description =
    `By default checks GATEWAY_OAUTH_ACCESS_TOKEN, MCP_CLIENT_ACCESS_TOKEN and GITHUB_PAT (those that are set, from the environment or .env). --token-env NAME (repeatable) and --stdin check exactly the tokens they name instead. A gateway JWT must carry a valid signature made with JWT_ALGORITHM only (RS256 with JWT_PRIVATE_KEY_B64 or --jwks-url, or HS256 with GATEWAY_JWT_SECRET), iss https://auth.$BASE_DOMAIN, an unexpired exp and a jti, and oauth:token:{jti} must still exist in Redis (deleting it is how the gateway revokes). GitHub tokens are checked by format, and with --online by GitHub's GET /user. One row per token; exit 3 when any is invalid, exit 4 when Redis, the JWKS or GitHub cannot be reached. Tokens are never printed.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --token-env MY_BOT_TOKEN --clock-tolerance 30',
    'printenv CI_GATEWAY_TOKEN | <%= config.bin %> <%= command.id %> --stdin --no-redis',
    '<%= config.bin %> <%= command.id %> --jwks-url https://auth.example.com/jwks --online',
    '<%= config.bin %> <%= command.id %> --json | jq -r \'.tokens[] | select(.valid | not) | "\\(.name): \\(.reason)"\'',
  ]

  static override flags = {
    ...redisFlags,
    'token-env': Flags.string({
      summary: 'Check the token in this variable (environment or .env) instead of the defaults. Repeatable.',
      multiple: true,
      helpValue: 'NAME',
    }),
    stdin: Flags.boolean({summary: 'Check a token piped on stdin (never pass a token as an argument).'}),
    redis: Flags.boolean({
      summary: 'Check that oauth:token:{jti} still exists in Redis; --no-redis skips it.',
      default: true,
      allowNo: true,
    }),
    online: Flags.boolean({summary: 'Also ask GitHub (GET $GITHUB_API_URL/user) whether GitHub tokens are accepted.'}),
    'jwks-url': Flags.string({summary: "Verify RS256 signatures with the gateway's JWKS instead of JWT_PRIVATE_KEY_B64.", helpValue: 'URL'}),
    resource: Flags.string({
      summary: "Also check that each gateway JWT is for this MCP server (its aud names it), as the newer gateway's /verify does.",
      helpValue: 'URL',
    }),
    'clock-tolerance': Flags.integer({summary: 'Seconds of clock skew to allow when checking exp.', default: 0, min: 0, helpValue: 'SECONDS'}),
  }

  async run(): Promise<ValidationReport> {
    const settings = await this.settings()
    const tokens = await this.tokensToCheck(settings)
    let verificationKey: Promise<VerificationKey> | undefined
    const results: TokenValidation[] = []
    for (const token of tokens) {
      if (token.value === undefined) {
        results.push(notSet(token.name))
        continue
      }
      results.push(
        await validateToken(token as NamedToken, {
          verificationKey: () => (verificationKey ??= gatewayVerificationKey(settings, {jwksUrl: this.flags['jwks-url']})),
          clockToleranceSeconds: this.flags['clock-tolerance'],
          resource: this.flags.resource === undefined ? undefined : canonicalResource(this.flags.resource),
          accessTokenExists: this.flags.redis ? async (jti) => (await (await this.tokenStore()).getAccessToken(jti)) !== undefined : undefined,
          expiresAtOf: (name) => toEpochSeconds(settings.get(`${name}${EXPIRES_AT_SUFFIX}`)),
          github: {online: this.flags.online, apiUrl: settings.get('GITHUB_API_URL') ?? DEFAULT_GITHUB_API_URL},
        }),
      )
    }
    const invalid = results.filter((result) => !result.valid).length
    if (!this.jsonEnabled()) this.render(results, invalid)
    if (invalid > 0) process.exitCode = ExitCode.invalidTokens
    return {
      valid: results.length - invalid,
      invalid,
      tokens: results.map((result) => ({...result, expires_at: isoTime(result.expires_at)})),
    }
  }

  private async tokensToCheck(settings: Settings): Promise<Array<{name: string; value?: string}>> {
    const names = this.flags['token-env'] ?? []
    for (const name of names) {
      if (!VARIABLE_NAME.test(name)) throw usageError(`--token-env takes a variable name such as MCP_CLIENT_ACCESS_TOKEN, not "${name}".`)
    }
    const tokens: Array<{name: string; value?: string}> = [...new Set(names)].map((name) => ({name, value: settings.get(name)}))
    if (this.flags.stdin) tokens.push({name: 'stdin', value: await readSecretFromStdin('a token')})
    if (names.length > 0 || this.flags.stdin) return tokens
    // The sources check-token-expiry reads, in the same order: the environment, then .env.
    const values = settings.tokenValues()
    return DEFAULT_TOKEN_NAMES.flatMap((name) => {
      const value = values.get(name)
      return value === undefined ? [] : [{name, value}]
    })
  }

  private render(results: TokenValidation[], invalid: number): void {
    if (results.length === 0) {
      this.note(`No tokens to validate: none of ${DEFAULT_TOKEN_NAMES.join(', ')} is set. Use --token-env NAME or --stdin.`)
      return
    }
    const now = Date.now() / 1000
    const rows = results.map((result) => [
      result.name,
      describeUser(result),
      result.expires_at === null ? '-' : [formatTime(result.expires_at), formatRelative(result.expires_at, now)],
      result.valid ? 'valid' : 'INVALID',
      result.valid ? `checked ${result.checks.join(', ')}${result.audience ? `; aud ${result.audience.join(', ')}` : ''}` : (result.reason ?? ''),
    ])
    this.log(renderTable(['token', 'user', 'expires', 'result', 'reason'], rows))
    this.note(`${plural(results.length, 'token')} checked: ${results.length - invalid} valid, ${invalid} invalid.`)
  }
}

function describeUser(result: TokenValidation): string {
  if (result.username && result.subject && result.subject !== result.username) return `${result.username} (sub ${result.subject})`
  return result.username ?? result.subject ?? '-'
}

function notSet(name: string): TokenValidation {
  return {
    name,
    kind: 'jwt',
    valid: false,
    reason: 'not set (in the environment or .env)',
    subject: null,
    username: null,
    client_id: null,
    jti: null,
    audience: null,
    expires_at: null,
    checks: [],
  }
}

function canonicalResource(url: string): string {
  try {
    return canonicalResourceUri(url)
  } catch {
    throw usageError(`--resource takes the URL of an MCP server, not "${url}".`)
  }
}
