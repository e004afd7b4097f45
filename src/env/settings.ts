import {type EnvFile, readEnvFile} from './env-file.js'
import {usageError} from '../errors.js'

/**
 * Newer gateways spell the auth service's settings with an `OAUTH_` prefix.
 * This is the one table of them: every setting here is read under both
 * names (the classic one first), and written under the one the `.env`
 * already uses.
 */
export const SETTING_ALIASES: Readonly<Record<string, string>> = {
  GATEWAY_JWT_SECRET: 'OAUTH_JWT_SECRET',
  JWT_ALGORITHM: 'OAUTH_JWT_ALGORITHM',
  JWT_PRIVATE_KEY_B64: 'OAUTH_JWT_PRIVATE_KEY_B64',
  ACCESS_TOKEN_LIFETIME: 'OAUTH_ACCESS_TOKEN_LIFETIME',
  REFRESH_TOKEN_LIFETIME: 'OAUTH_REFRESH_TOKEN_LIFETIME',
  SESSION_TIMEOUT: 'OAUTH_SESSION_TIMEOUT',
  CLIENT_LIFETIME: 'OAUTH_CLIENT_LIFETIME',
  ALLOWED_GITHUB_USERS: 'OAUTH_ALLOWED_GITHUB_USERS',
  MCP_PROTOCOL_VERSION: 'OAUTH_MCP_PROTOCOL_VERSION',
}

/** The classic name of a setting given under either name (`OAUTH_JWT_SECRET` -> `GATEWAY_JWT_SECRET`). */
export function classicSettingName(name: string): string {
  return Object.entries(SETTING_ALIASES).find(([, alias]) => alias === name)?.[0] ?? name
}

/** Both names of a setting, the classic one first; one name for a setting without an alias. */
export function settingNames(name: string): string[] {
  const classic = classicSettingName(name)
  return SETTING_ALIASES[classic] ? [classic, SETTING_ALIASES[classic]] : [name]
}

/**
 * Which spelling a `.env` uses: `oauth` when it holds any `OAUTH_` name of
 * the table and none of the classic ones, `classic` when it holds a classic
 * one and no `OAUTH_` one, `mixed` or `none` otherwise.
 */
export function settingSpelling(names: Iterable<string>): 'classic' | 'oauth' | 'mixed' | 'none' {
  const present = new Set(names)
  const classic = Object.keys(SETTING_ALIASES).some((name) => present.has(name))
  const oauth = Object.values(SETTING_ALIASES).some((name) => present.has(name))
  return classic && oauth ? 'mixed' : oauth ? 'oauth' : classic ? 'classic' : 'none'
}

/** How a token's variable is named: the built-in and named logins' tokens, GitHub's, and the expiry beside an opaque one. */
const TOKEN_VARIABLE = /^(?:[A-Z][A-Z0-9_]*_(?:ACCESS|REFRESH)_TOKEN|GITHUB_PAT)(?:_EXPIRES_AT)?$/

/** Lifetimes the gateway uses when its `.env` does not set them (seconds). */
export const DEFAULT_LIFETIMES = {
  ACCESS_TOKEN_LIFETIME: 86_400,
  REFRESH_TOKEN_LIFETIME: 2_592_000,
  SESSION_TIMEOUT: 3600,
  CLIENT_LIFETIME: 7_776_000,
} as const

/** Where a setting's value was found, so messages can point at the right place. */
export type SettingSource = 'environment' | '.env'

/**
 * The settings mcpauth runs with. Command-line flags are applied by the
 * caller; below them the process environment wins over the `.env` file.
 */
export class Settings {
  /** 1-based numbers of `.env` lines that are neither KEY=VALUE nor a comment: ignored, worth a warning. */
  malformedLines: readonly number[] = []
  /** The `.env` file as loadSettings read it, lines and all, for commands that need more than its values. */
  envFile: EnvFile | undefined

  constructor(
    readonly envFilePath: string,
    readonly envFileExists: boolean,
    /** The values of `.env` as this command read it (once: settings and tokens come from the same read). */
    readonly fileValues: ReadonlyMap<string, string>,
    private readonly processEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  get(name: string): string | undefined {
    return this.lookup(name)?.value
  }

  lookup(name: string): {value: string; source: SettingSource; name: string} | undefined {
    const names = settingNames(name)
    for (const candidate of names) {
      const value = nonEmpty(this.processEnv[candidate])
      if (value !== undefined) return {value, source: 'environment', name: candidate}
    }
    for (const candidate of names) {
      const value = nonEmpty(this.fileValues.get(candidate))
      if (value !== undefined) return {value, source: '.env', name: candidate}
    }
    return undefined
  }

  /**
   * Every value the token commands look at, from the same sources in the
   * same order as any setting: each key of the `.env` and each variable of
   * the environment named like a token (`…_ACCESS_TOKEN`, `…_REFRESH_TOKEN`,
   * `GITHUB_PAT`, and their `…_EXPIRES_AT`), the environment's value first.
   * In the order of the `.env`, then the environment's own.
   */
  tokenValues(): Map<string, string> {
    const names = new Set([
      ...this.fileValues.keys(),
      ...Object.keys(this.processEnv)
        .filter((name) => TOKEN_VARIABLE.test(name))
        .sort(),
    ])
    const values = new Map<string, string>()
    for (const name of names) {
      const value = nonEmpty(this.processEnv[name]) ?? nonEmpty(this.fileValues.get(name))
      if (value !== undefined) values.set(name, value)
    }
    return values
  }

  /** Whether a token-named variable of the environment is set: the token commands then have something to look at without a `.env`. */
  hasTokensInEnvironment(): boolean {
    return Object.keys(this.processEnv).some((name) => TOKEN_VARIABLE.test(name) && nonEmpty(this.processEnv[name]) !== undefined)
  }

  /** Which spelling of the auth settings this set-up uses (the `.env` and the environment together). */
  settingSpelling(): ReturnType<typeof settingSpelling> {
    return settingSpelling([...this.fileValues.keys(), ...Object.keys(this.processEnv).filter((name) => nonEmpty(this.processEnv[name]) !== undefined)])
  }

  /** The name to tell an operator to set: the `OAUTH_` one when the `.env` spells its settings that way. */
  preferredName(name: string): string {
    const names = settingNames(name)
    return names.length > 1 && settingSpelling(this.fileValues.keys()) === 'oauth' ? names[1] : names[0]
  }

  /** A whole number of seconds (or other unit), or the default when unset. */
  getInteger(name: string, fallback: number): number {
    const found = this.lookup(name)
    if (found === undefined) return fallback
    const parsed = Number(found.value)
    if (!Number.isInteger(parsed) || parsed < 0) {
      throw usageError(`${found.name} must be a whole number, not "${found.value}".`, `Fix ${found.name} in ${this.envFilePath} or the environment.`)
    }
    return parsed
  }

  lifetime(name: keyof typeof DEFAULT_LIFETIMES): number {
    return this.getInteger(name, DEFAULT_LIFETIMES[name])
  }
}

export async function loadSettings(envFilePath: string, processEnv: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  const envFile = await readEnvFile(envFilePath)
  const settings = new Settings(envFilePath, envFile.exists, envFile.values, processEnv)
  settings.malformedLines = envFile.malformedLines
  settings.envFile = envFile
  return settings
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
