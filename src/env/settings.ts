import {type EnvFile, readEnvFile} from './env-file.js'
import {usageError} from '../errors.js'

/**
 * Newer gateways spell the auth settings with an `OAUTH_` prefix. Both names
 * are read; the gateway's classic name is the one mcpauth writes.
 */
export const SETTING_ALIASES: Readonly<Record<string, string>> = {
  GATEWAY_JWT_SECRET: 'OAUTH_JWT_SECRET',
  JWT_ALGORITHM: 'OAUTH_JWT_ALGORITHM',
  JWT_PRIVATE_KEY_B64: 'OAUTH_JWT_PRIVATE_KEY_B64',
  ACCESS_TOKEN_LIFETIME: 'OAUTH_ACCESS_TOKEN_LIFETIME',
  REFRESH_TOKEN_LIFETIME: 'OAUTH_REFRESH_TOKEN_LIFETIME',
  CLIENT_LIFETIME: 'OAUTH_CLIENT_LIFETIME',
}

/** Lifetimes the gateway uses when its `.env` does not set them (seconds). */
export const DEFAULT_LIFETIMES = {
  ACCESS_TOKEN_LIFETIME: 86_400,
  REFRESH_TOKEN_LIFETIME: 2_592_000,
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
    const names = SETTING_ALIASES[name] ? [name, SETTING_ALIASES[name]] : [name]
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

  /** A whole number of seconds (or other unit), or the default when unset. */
  getInteger(name: string, fallback: number): number {
    const value = this.get(name)
    if (value === undefined) return fallback
    const parsed = Number(value)
    if (!Number.isInteger(parsed) || parsed < 0) {
      throw usageError(`${name} must be a whole number, not "${value}".`, `Fix ${name} in ${this.envFilePath} or the environment.`)
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
