import {createHash} from 'node:crypto'
import {dirname, join} from 'node:path'

import {SETTING_ALIASES, settingSpelling} from './settings.js'
import {type EnvFile, updateEnvFile} from './env-file.js'
import {usageError} from '../errors.js'
import {decodePrivateKeyB64, generateRsaKey, generateSecret, isPlaceholder} from '../jwt/keys.js'

/** A secret the gateway needs in `.env`: how to make one and how to tell a usable one. */
export interface SecretSpec {
  name: string
  generate(): Promise<string>
  /** Undefined when the value is usable, otherwise why not. */
  problem(value: string): string | undefined
}

export type SecretAction = 'created' | 'kept' | 'replaced'

export interface SecretOutcome {
  name: string
  /** The names written in `.env` (the classic name, or the OAUTH_ spelling the file already uses). */
  written_as: string[]
  action: SecretAction
  /** The new value, for callers that must mask or print it; never rendered by default. */
  value?: string
}

export interface EnsureSecretsResult {
  env_file: string
  created_env_file: boolean
  seeded_from: string | null
  secrets: SecretOutcome[]
}

export interface EnsureSecretsOptions {
  /** Replace usable values too. */
  force: boolean
  /** What to do with a usable existing value when not forced: keep it, or refuse (exit 2). */
  whenPresent: 'keep' | 'refuse'
  seedFrom?: string
}

export const jwtSecretSpec = (length = 64): SecretSpec => ({
  name: 'GATEWAY_JWT_SECRET',
  generate: async () => generateSecret(length),
  problem: (value) => (value.length < 32 ? `only ${value.length} characters; at least 32 are needed` : undefined),
})

export const rsaKeySpec = (bits = 2048): SecretSpec => ({
  name: 'JWT_PRIVATE_KEY_B64',
  generate: async () => (await generateRsaKey(bits)).encoded,
  problem: (value) => {
    const decoded = decodePrivateKeyB64(value)
    return decoded.ok ? undefined : decoded.problem
  },
})

export const redisPasswordSpec = (): SecretSpec => ({
  name: 'REDIS_PASSWORD',
  // Letters and digits only: the password also ends up in redis:// URLs and compose files.
  generate: async () => generateSecret(64).replace(/[-_]/g, '').slice(0, 48).padEnd(48, 'x'),
  problem: () => undefined,
})

/** `sha256:1a2b3c4d5e6f`: tells two secrets apart without showing either. */
export function fingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`
}

export function defaultExamplePath(envFilePath: string): string {
  return join(dirname(envFilePath), '.env.example')
}

/**
 * Fills missing or placeholder secrets in one locked, atomic `.env` write.
 * Nothing is written when every secret is already usable, and nothing at all
 * when one is unusable and not forced (the command fails with exit 2 first).
 */
export async function ensureSecrets(envFilePath: string, specs: SecretSpec[], options: EnsureSecretsOptions): Promise<EnsureSecretsResult> {
  const outcomes: SecretOutcome[] = []
  let seeded = false
  const update = await updateEnvFile(
    envFilePath,
    async (current) => {
      seeded = !current.exists && current.lines.length > 0
      outcomes.length = 0
      const updates: Record<string, string> = {}
      for (const spec of specs) {
        const outcome = await decide(spec, current, options)
        outcomes.push(outcome)
        if (outcome.value !== undefined) for (const name of outcome.written_as) updates[name] = outcome.value
      }
      return updates
    },
    {seedFrom: options.seedFrom},
  )
  return {env_file: envFilePath, created_env_file: update.created, seeded_from: seeded ? (options.seedFrom ?? null) : null, secrets: outcomes}
}

async function decide(spec: SecretSpec, current: EnvFile, options: EnsureSecretsOptions): Promise<SecretOutcome> {
  const names = namesInFile(spec.name, current)
  const existing = names.map((name) => current.values.get(name)).find((value) => !isPlaceholder(value))
  if (existing === undefined) return {name: spec.name, written_as: names, action: 'created', value: await spec.generate()}
  const problem = spec.problem(existing)
  if (!options.force) {
    if (problem) throw usageError(`${spec.name} in ${current.path} is set but not usable: ${problem}.`, 'Fix it by hand, or pass --force to replace it.')
    if (options.whenPresent === 'refuse') {
      throw usageError(
        `${spec.name} is already set in ${current.path} (${fingerprint(existing)}).`,
        'Pass --force to replace it; everything signed with the old value stops validating.',
      )
    }
    return {name: spec.name, written_as: names, action: 'kept'}
  }
  return {name: spec.name, written_as: names, action: 'replaced', value: await spec.generate()}
}

/**
 * The classic name, plus the OAUTH_ alias when the file already uses it; the
 * alias alone if only it is there, or if the file spells its settings the
 * newer way (OAUTH_*) and has neither.
 */
function namesInFile(name: string, file: EnvFile): string[] {
  const alias = SETTING_ALIASES[name]
  if (!alias) return [name]
  if (!file.values.has(alias)) return !file.values.has(name) && settingSpelling(file.values.keys()) === 'oauth' ? [alias] : [name]
  return file.values.has(name) ? [name, alias] : [alias]
}
