import {stat} from 'node:fs/promises'

import {SETTING_ALIASES, type Settings} from './env/settings.js'
import type {EnvFile} from './env/env-file.js'
import {McpAuthError, ExitCode} from './errors.js'
import type {GatewayAlgorithm} from './jwt/codec.js'
import {gatewayAlgorithm, gatewayIssuer, gatewayVerificationKey} from './jwt/gateway-keys.js'
import {MIN_RSA_BITS, decodePrivateKeyB64, isPlaceholder, publicJwk} from './jwt/keys.js'
import {discoverAuthServer} from './oauth/discovery.js'
import {type OAuthHttpOptions, requestOAuth} from './oauth/http.js'
import {formatDuration} from './output.js'
import {toEpochSeconds} from './time.js'
import type {TokenStore} from './store/token-store.js'
import {EXPIRES_AT_SUFFIX, findTokenExpiries} from './jwt/expiry.js'
import {validateToken} from './jwt/validation.js'

/**
 * `mcpauth doctor`: is this gateway's token set-up healthy? Each check gives
 * ok / warn / fail with one line of detail and, when it fails, how to fix it.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail'
/** What a failure means for the exit code: a config or token problem (3), or something unreachable (4). */
type FailureKind = 'invalid' | 'unreachable'

export interface DoctorCheck {
  check: string
  status: CheckStatus
  detail: string
  hint: string | null
  /** Only for failures: decides between exit 3 and 4. */
  kind?: FailureKind
}

export interface DoctorReport {
  env_file: string
  checks: DoctorCheck[]
  summary: Record<CheckStatus, number>
  exit_code: number
}

export interface DoctorInputs {
  envFile: EnvFile
  settings: Settings
  /** Opens the token store, or throws the connection failure. */
  tokenStore: () => Promise<TokenStore>
  online: boolean
  /** Timeouts for the --online requests. */
  http?: OAuthHttpOptions
  expiryWarningSeconds: number
  now?: number
}

/** The variables the gateway refuses to start without. */
export const REQUIRED_SETTINGS = [
  'GITHUB_CLIENT_ID',
  'GITHUB_CLIENT_SECRET',
  'GATEWAY_JWT_SECRET',
  'JWT_PRIVATE_KEY_B64',
  'REDIS_PASSWORD',
  'BASE_DOMAIN',
  'ALLOWED_GITHUB_USERS',
] as const

/** The required secrets mcpauth can make; the GitHub ones come from the GitHub app's settings. */
const GENERATED_SECRETS: ReadonlySet<string> = new Set(['GATEWAY_JWT_SECRET', 'JWT_PRIVATE_KEY_B64', 'REDIS_PASSWORD'])
const LIFETIME_SETTINGS = ['ACCESS_TOKEN_LIFETIME', 'REFRESH_TOKEN_LIFETIME', 'SESSION_TIMEOUT', 'CLIENT_LIFETIME'] as const
const OPTIONAL_SETTINGS = ['JWT_ALGORITHM', 'MCP_PROTOCOL_VERSION'] as const
const GATEWAY_TOKENS = ['GATEWAY_OAUTH_ACCESS_TOKEN', 'MCP_CLIENT_ACCESS_TOKEN'] as const

export async function runDoctor(inputs: DoctorInputs): Promise<DoctorReport> {
  const checks: DoctorCheck[] = await checkEnvFile(inputs.envFile)
  checks.push(
    ...checkRequiredSettings(inputs.settings),
    ...checkLifetimes(inputs.settings),
    ...checkOptionalSettings(inputs.settings),
    ...checkAliasConflicts(inputs.envFile),
  )
  checks.push(checkSigningKey(inputs.settings))
  const redis = await checkRedis(inputs.tokenStore)
  checks.push(redis.check)
  checks.push(...(await checkTokens(inputs, redis.store)))
  if (inputs.online) checks.push(...(await checkGatewayOnline(inputs.settings, inputs.http)))
  return summarize(inputs.envFile.path, checks)
}

const ok = (check: string, detail: string): DoctorCheck => ({check, status: 'ok', detail, hint: null})
const warn = (check: string, detail: string, hint: string | null = null): DoctorCheck => ({check, status: 'warn', detail, hint})
const fail = (check: string, detail: string, hint: string | null, kind: FailureKind = 'invalid'): DoctorCheck => ({check, status: 'fail', detail, hint, kind})

/** Every finding about the file itself: an unparseable line does not hide a mode others can read. */
async function checkEnvFile(envFile: EnvFile): Promise<DoctorCheck[]> {
  if (!envFile.exists)
    return [fail('.env file', `${envFile.path} not found`, 'Run "mcpauth generate-all-secrets" to create it from .env.example.', 'unreachable')]
  const mode = (await stat(envFile.path)).mode & 0o777
  const octal = mode.toString(8).padStart(4, '0')
  const findings: DoctorCheck[] = []
  if (envFile.malformedLines.length > 0) {
    findings.push(
      warn('.env file', `${envFile.path}: line ${envFile.malformedLines.join(', ')} cannot be parsed`, 'Each line must be NAME=value, a comment or blank.'),
    )
  }
  if (mode & 0o077) findings.push(warn('.env file', `${envFile.path} is mode ${octal}: others can read its secrets`, `chmod 600 ${envFile.path}`))
  return findings.length > 0 ? findings : [ok('.env file', `${envFile.path} (mode ${octal})`)]
}

function checkRequiredSettings(settings: Settings): DoctorCheck[] {
  return REQUIRED_SETTINGS.map((name) => {
    const found = settings.lookup(name)
    if (!found) return fail(name, 'missing', `Set ${settings.preferredName(name)} in ${settings.envFilePath}.`)
    if (isPlaceholder(found.value)) {
      const generated = GENERATED_SECRETS.has(name) ? ' (mcpauth generate-all-secrets fills it)' : ''
      return fail(name, `${found.name} is a placeholder`, `Replace it in ${settings.envFilePath}${generated}.`)
    }
    return ok(name, `set${whereFound(name, found)}`)
  })
}

/** How doctor says where a setting was found: ` as OAUTH_…` when under its newer name, ` (from the environment)`. */
function whereFound(name: string, found: {name: string; source: string}): string {
  return `${found.name === name ? '' : ` as ${found.name}`}${found.source === 'environment' ? ' (from the environment)' : ''}`
}

/** Settings the gateway has a default for, shown as they are read (under either name). */
function checkOptionalSettings(settings: Settings): DoctorCheck[] {
  return OPTIONAL_SETTINGS.map((name) => {
    const found = settings.lookup(name)
    return found ? ok(name, `${found.value}${whereFound(name, found)}`) : ok(name, "not set: the gateway's default applies")
  })
}

function checkLifetimes(settings: Settings): DoctorCheck[] {
  return LIFETIME_SETTINGS.map((name) => {
    const found = settings.lookup(name)
    if (!found) return warn(name, 'not set: the gateway default applies')
    const seconds = Number(found.value)
    if (!Number.isInteger(seconds) || seconds < 0)
      return fail(name, `"${found.value}" is not a number of seconds`, `Set ${found.name} to whole seconds, e.g. 86400.`)
    return ok(name, `${seconds === 0 ? 'no expiry' : formatDuration(seconds)}${whereFound(name, found)}`)
  })
}

/** The classic and the OAUTH_ name both set to different values: which one wins depends on the gateway version. */
function checkAliasConflicts(envFile: EnvFile): DoctorCheck[] {
  return Object.entries(SETTING_ALIASES).flatMap(([classic, alias]) => {
    const classicValue = envFile.values.get(classic)
    const aliasValue = envFile.values.get(alias)
    if (classicValue === undefined || aliasValue === undefined || classicValue === aliasValue) return []
    return [fail(`${classic} / ${alias}`, 'both set, to different values', `Keep one: older gateways read ${classic}, newer ones ${alias}.`)]
  })
}

function checkSigningKey(settings: Settings): DoctorCheck {
  let algorithm: GatewayAlgorithm
  try {
    algorithm = gatewayAlgorithm(settings)
  } catch (error) {
    return fail('signing key', (error as Error).message, null)
  }
  if (algorithm === 'HS256') {
    const secret = settings.get('GATEWAY_JWT_SECRET')
    if (!secret || isPlaceholder(secret)) return fail('signing key', 'HS256 but no GATEWAY_JWT_SECRET', 'Run "mcpauth generate-jwt-secret".')
    return secret.length < 32
      ? fail('signing key', `HS256 secret has only ${secret.length} characters`, 'Use at least 32 (mcpauth generate-jwt-secret --force).')
      : ok('signing key', 'HS256 secret')
  }
  const decoded = decodePrivateKeyB64(settings.get('JWT_PRIVATE_KEY_B64'))
  if (!decoded.ok)
    return fail('signing key', `JWT_PRIVATE_KEY_B64: ${decoded.problem}`, `Run "mcpauth generate-rsa-keys" (keys under ${MIN_RSA_BITS} bits are refused).`)
  return ok('signing key', `RS256, ${decoded.bits}-bit RSA key`)
}

async function checkRedis(open: () => Promise<TokenStore>): Promise<{check: DoctorCheck; store?: TokenStore}> {
  try {
    const store = await open()
    const keys = await store.approximateKeyCount()
    return {check: ok('redis', `reachable, ${keys.toLocaleString('en-US')} keys`), store}
  } catch (error) {
    if (!(error instanceof McpAuthError)) throw error
    return {check: fail('redis', error.message, error.hint ?? null, 'unreachable')}
  }
}

async function checkTokens(inputs: DoctorInputs, store: TokenStore | undefined): Promise<DoctorCheck[]> {
  const expiries = findTokenExpiries(inputs.envFile.values, {withinSeconds: inputs.expiryWarningSeconds, now: inputs.now})
  const checks = expiries.map((expiry): DoctorCheck => {
    const left = expiry.seconds_left === null ? '' : formatDuration(expiry.seconds_left)
    if (expiry.status === 'expired') return fail(expiry.name, `expired ${left} ago`, 'Run "mcpauth refresh-tokens", or log in again.')
    if (expiry.status === 'unreadable') return fail(expiry.name, `cannot be read: ${expiry.problem}`, null)
    if (expiry.status === 'expiring') return warn(expiry.name, `expires in ${left}`, 'Run "mcpauth refresh-tokens".')
    return ok(expiry.name, expiry.status === 'no_expiry' ? 'no expiry' : `expires in ${left}`)
  })
  for (const name of GATEWAY_TOKENS) {
    const value = inputs.envFile.values.get(name)
    const current = checks.find((check) => check.check === name)
    if (!value || isPlaceholder(value) || current?.status === 'fail') continue
    const verdict = await validateGatewayToken(name, value, inputs.settings, store)
    if (verdict && current) Object.assign(current, verdict)
  }
  return checks.length > 0 ? checks : [ok('tokens', 'no tokens in .env yet')]
}

/** Signature, claims and Redis record, as the gateway checks them; undefined when valid. */
async function validateGatewayToken(name: string, value: string, settings: Settings, store: TokenStore | undefined) {
  try {
    const verdict = await validateToken(
      {name, value},
      {
        verificationKey: () => gatewayVerificationKey(settings),
        clockToleranceSeconds: 0,
        accessTokenExists: store ? async (jti) => (await store.getAccessToken(jti)) !== undefined : undefined,
        expiresAtOf: (tokenName) => toEpochSeconds(settings.get(`${tokenName}${EXPIRES_AT_SUFFIX}`)),
        github: {online: false},
      },
    )
    return verdict.valid
      ? undefined
      : {
          status: 'fail' as const,
          detail: `invalid: ${verdict.reason}`,
          hint: 'Get a new one (mcpauth mcp-client-token / generate-github-token).',
          kind: 'invalid' as const,
        }
  } catch (error) {
    if (!(error instanceof McpAuthError)) throw error
    return {status: 'warn' as const, detail: `not verified: ${error.message}`, hint: error.hint ?? null}
  }
}

/** The gateway's metadata and /jwks answer, and its key is the one in .env. */
async function checkGatewayOnline(settings: Settings, http: OAuthHttpOptions = {}): Promise<DoctorCheck[]> {
  let issuer: string
  try {
    issuer = gatewayIssuer(settings)
  } catch (error) {
    return [fail('gateway', (error as Error).message, null)]
  }
  const checks = [await checkGatewayMetadata(issuer, http)]
  const jwks = await fetchJson(`${issuer}/jwks`, http)
  if (!jwks.ok) return [...checks, fail('gateway /jwks', jwks.problem, null, 'unreachable')]
  const decoded = decodePrivateKeyB64(settings.get('JWT_PRIVATE_KEY_B64'))
  if (!decoded.ok) return [...checks, warn('gateway /jwks', 'reachable; no local key to compare with')]
  const local = publicJwk(decoded.key)
  const keys = Array.isArray((jwks.body as {keys?: unknown}).keys) ? (jwks.body as {keys: Array<{n?: string; e?: string}>}).keys : []
  const same = keys.some((key) => key.n === local.n && key.e === local.e)
  return [
    ...checks,
    same
      ? ok('gateway /jwks', 'serves the key in .env')
      : fail(
          'gateway /jwks',
          'does not serve the key in .env',
          'The gateway signs with another key: copy its JWT_PRIVATE_KEY_B64, or restart it with this one.',
        ),
  ]
}

/** The metadata found as the sign-in commands find it, so doctor fails where they would. */
async function checkGatewayMetadata(issuer: string, http: OAuthHttpOptions): Promise<DoctorCheck> {
  try {
    await discoverAuthServer(issuer, http)
    return ok('gateway metadata', `${issuer} answers`)
  } catch (error) {
    if (!(error instanceof McpAuthError)) throw error
    return fail('gateway metadata', error.message, 'Is the gateway running and BASE_DOMAIN right?', 'unreachable')
  }
}

/** A JSON document from the gateway, read as the OAuth flows read answers (timeouts, HTML, 5xx, size limit, https). */
async function fetchJson(url: string, http: OAuthHttpOptions): Promise<{ok: true; body: unknown} | {ok: false; problem: string}> {
  try {
    const answer = await requestOAuth(url, {}, http)
    if (answer.status !== 200) return {ok: false, problem: `${url} answered HTTP ${answer.status}`}
    return {ok: true, body: answer.body}
  } catch (error) {
    return {ok: false, problem: (error as Error).message}
  }
}

function summarize(envFilePath: string, checks: DoctorCheck[]): DoctorReport {
  const summary = {ok: 0, warn: 0, fail: 0}
  for (const check of checks) summary[check.status]++
  const failures = checks.filter((check) => check.status === 'fail')
  const exitCode = failures.some((check) => check.kind === 'unreachable') ? ExitCode.unreachable : failures.length > 0 ? ExitCode.invalidTokens : ExitCode.ok
  return {env_file: envFilePath, checks: checks.map(({kind: _kind, ...check}) => check), summary, exit_code: exitCode}
}
