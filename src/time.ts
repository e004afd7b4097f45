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

/** The latest time mcpauth reads, 9999-12-31T23:59:59Z: beyond it a date cannot be shown, nor given to EXPIREAT. */
export const LATEST_EPOCH_SECONDS = 253_402_300_799

/** A time between 1970 and the year 9999, in epoch seconds; anything else (1e300, -1, NaN, a word) is not one. */
export function isPlausibleEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= LATEST_EPOCH_SECONDS
}

/**
 * Accepts epoch seconds (int or float), epoch milliseconds, numeric strings
 * and ISO dates; undefined for what is none of them or lies outside
 * 1970..9999 (a time of 1e300 is a fault in the data, not a date).
 */
export function toEpochSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') {
    const seconds = value > 1e12 ? value / 1000 : value
    return isPlausibleEpoch(seconds) ? seconds : undefined
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined
  const numeric = Number(value)
  if (Number.isFinite(numeric)) return toEpochSeconds(numeric)
  const parsed = Date.parse(value)
  return Number.isNaN(parsed) ? undefined : toEpochSeconds(parsed / 1000)
}
