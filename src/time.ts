import {usageError} from './errors.js'

const UNIT_SECONDS: Readonly<Record<string, number>> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}
const DURATION_PATTERN = /^(?:\d+[smhdw])+$/

/**
 * Seconds in a duration as operators type it: `3600` (seconds), `90m`, `2h`,
 * `1d`, or a combination such as `1h30m`. `what` names the flag in the error.
 */
export function parseDuration(text: string, what: string): number {
  const compact = text.trim().toLowerCase()
  if (/^\d+$/.test(compact)) return Number(compact)
  if (!DURATION_PATTERN.test(compact)) {
    throw usageError(`${what} must be a duration such as 3600, 90m, 2h or 1d, not "${text}".`)
  }
  let seconds = 0
  for (const [, amount, unit] of compact.matchAll(/(\d+)([smhdw])/g)) seconds += Number(amount) * UNIT_SECONDS[unit]
  return seconds
}

/** A duration from its flag, else from the setting (environment or .env), else the default; errors name where it came from. */
export function durationSetting(
  flagValue: string | undefined,
  flagName: string,
  settings: {get(name: string): string | undefined},
  variable: string,
  fallback: string,
): number {
  if (flagValue !== undefined) return parseDuration(flagValue, flagName)
  return parseDuration(settings.get(variable) ?? fallback, variable)
}

/** Accepts epoch seconds (int or float), epoch milliseconds, numeric strings and ISO dates. */
export function toEpochSeconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e12 ? value / 1000 : value
  if (typeof value !== 'string' || value.trim() === '') return undefined
  const numeric = Number(value)
  if (Number.isFinite(numeric)) return toEpochSeconds(numeric)
  const parsed = Date.parse(value)
  return Number.isNaN(parsed) ? undefined : parsed / 1000
}
