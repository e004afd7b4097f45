import {createRequire} from 'node:module'
import {formatWithOptions} from 'node:util'

import {safeForTerminal} from './output.js'

/** The part of the `debug` package (used by oclif and ioredis) this module steers. */
interface DebugPackage {
  log: (this: {namespace?: string}, ...args: unknown[]) => void
  inspectOpts: Record<string, unknown>
}

/** What one debug line may print: enough for oclif's config dumps, bounded all the same. */
const DEBUG_LINE_LIMIT = 20_000
/** ioredis logs each command with its arguments: `write command[host:port]: 0 -> auth([ 'password' ])`. */
const REDIS_COMMAND_LINE = /^(.*\b(?:queue|write) command\[[^\]]*\]: \S+ -> [\w.-]+)\((.*)\)$/s
/** `scheme://user:password@`: the password of a Redis URL in argv or a message. */
const URL_PASSWORD = /\b([a-z][a-z\d+.-]*:\/\/[^\s:@/]*):[^\s@/]+@/gi
/** A JWT (three base64url parts, the first a JSON header). */
const JWT = /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g
/** Environment variables whose values are secrets: shown nowhere, debug output included. */
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSPHRASE|PRIVATE_KEY|_PAT$)/
const MIN_SECRET_LENGTH = 6

/**
 * Makes `DEBUG=*` safe to turn on: every line the `debug` package prints
 * (oclif's, ioredis's) goes through here. ioredis writes each command with
 * its arguments (the password of AUTH, keys that hold refresh tokens, values
 * that hold client secrets), so a Redis command is shown by its name only;
 * URL passwords, JWTs and the values of secret environment variables are
 * masked; what is left is escaped like any untrusted text (keys and replies
 * come from Redis), without colours, which would be escaped too.
 * Called by bin/run.js before oclif loads, only when DEBUG is set.
 */
export function installDebugRedaction(): void {
  const debug = createRequire(import.meta.url)('debug') as DebugPackage
  debug.inspectOpts.colors = false
  const secrets = secretValues(process.env)
  debug.log = function (this: {namespace?: string}, ...args: unknown[]): void {
    const text = redactDebugText(formatWithOptions(debug.inspectOpts, ...args), secrets)
    process.stderr.write(`${safeForTerminal(text, {keepNewlines: true, limit: DEBUG_LINE_LIMIT})}\n`)
  }
}

export function redactDebugText(text: string, secrets: readonly string[] = []): string {
  let redacted = text.replace(REDIS_COMMAND_LINE, '$1(arguments not shown)')
  redacted = redacted.replace(URL_PASSWORD, '$1:***@').replace(JWT, 'eyJ***')
  for (const secret of secrets) redacted = redacted.replaceAll(secret, '***')
  return redacted
}

function secretValues(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.length >= MIN_SECRET_LENGTH)
    .map(([, value]) => value as string)
}
