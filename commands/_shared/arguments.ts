import {usageError} from '../../src/errors.js'

/** Identifiers are matched exactly: reject what looks like a pattern or a typo'd paste. */
export function requireExactId(value: string, what: string): string {
  const trimmed = value.trim()
  if (trimmed === '' || /[\s*?[\]]/.test(trimmed)) {
    throw usageError(`"${value}" is not a valid ${what}: give the exact value, without spaces or wildcards.`)
  }
  return trimmed
}
