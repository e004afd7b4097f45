import {usageError} from '../../src/errors.js'
import {KEY_NAMESPACE, type RecordKind, keyPrefix, parseKey} from '../../src/store/records.js'

/** Identifiers are matched exactly: reject what looks like a pattern or a typo'd paste. */
export function requireExactId(value: string, what: string): string {
  const trimmed = value.trim()
  if (trimmed === '' || /[\s*?[\]]/.test(trimmed)) {
    throw usageError(`"${value}" is not a valid ${what}: give the exact value, without spaces or wildcards.`)
  }
  return trimmed
}

/**
 * The id of a record, given bare (`Xk3v…`) or as the full key mcpauth prints
 * (`oauth:token:Xk3v…`); the key of another kind is a usage error.
 */
export function requireRecordId(value: string, kind: RecordKind, what: string): string {
  const exact = requireExactId(value, what)
  if (!exact.startsWith(KEY_NAMESPACE)) return exact
  const parsed = parseKey(exact)
  if (parsed?.kind !== kind || parsed.id === '') {
    throw usageError(`"${value}" is not a ${what} or an ${keyPrefix(kind)}<${what}> key.`, `Give the ${what} itself, or its key ${keyPrefix(kind)}<${what}>.`)
  }
  return parsed.id
}
