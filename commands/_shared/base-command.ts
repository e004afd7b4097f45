import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {type Settings, loadSettings} from '../../src/env/settings.js'
import {McpAuthError, ExitCode, cancelledError, fileSystemError, isFileSystemError, usageError} from '../../src/errors.js'
import {JsonArrayWriter, MESSAGE_LIMIT, formatDuration, Progress, StdoutClosedError, isStdoutClosed, safeForTerminal, watchStdout} from '../../src/output.js'
import {type RedisClient, type RedisTarget, closeRedis, connectRedis, resolveRedisTarget} from '../../src/redis/client.js'
import {TokenStore} from '../../src/store/token-store.js'
import {closestName} from './closest.js'

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

const DEFAULT_ENV_FILE = '.env'
const NOTHING_CHANGED = 'Nothing changed.'
/** ioredis's commandTimeout when REDIS_COMMAND_TIMEOUT is not set (src/redis/client.ts). */
const DEFAULT_REDIS_TIMEOUT_MS = 60_000

/** Flags of every command that talks to Redis. The password is never a flag: it would sit in argv. */
export const redisFlags = {
  'redis-url': Flags.string({
    summary: 'Redis URL, e.g. redis://127.0.0.1:6379/0 or rediss://user@host:6380/0 (password from REDIS_PASSWORD).',
    helpGroup: 'REDIS',
  }),
  'redis-host': Flags.string({summary: 'Redis host (default REDIS_HOST or 127.0.0.1).', helpGroup: 'REDIS'}),
  'redis-port': Flags.integer({summary: 'Redis port (default REDIS_PORT or 6379).', min: 1, max: 65_535, helpGroup: 'REDIS'}),
  'redis-db': Flags.integer({summary: 'Redis database number (default REDIS_DB or 0).', min: 0, helpGroup: 'REDIS'}),
  cluster: Flags.string({
    summary: 'Redis Cluster seed nodes, host:port,host:port (default REDIS_CLUSTER_NODES).',
    helpValue: 'NODES',
    helpGroup: 'REDIS',
  }),
  'redis-ca-file': Flags.string({summary: 'CA certificate (PEM) for rediss:// TLS (default REDIS_TLS_CA_FILE).', helpValue: 'PATH', helpGroup: 'REDIS'}),
}

/** For destructive commands: on a terminal they ask; anywhere else they need --yes. */
export const confirmFlags = {
  yes: Flags.boolean({char: 'y', aliases: ['force'], summary: 'Do it without asking (required when not on a terminal).'}),
}

/**
 * What every mcpauth command shares: `--json`, `--env-file`, settings,
 * the Redis connection (closed at the end so the process exits), the
 * confirmation prompt, and one place where errors become messages and exit codes.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = {
    'env-file': Flags.string({
      summary: `The gateway's .env file to read settings from (default ./${DEFAULT_ENV_FILE}).`,
      helpValue: 'PATH',
    }),
  }

  protected flags!: CommandFlags<T>
  protected args!: CommandArgs<T>
  private redisClient?: RedisClient
  private redisTimeoutMs?: number
  private cachedSettings?: Settings
  private cachedStore?: TokenStore
  /** Set once a streamed JSON array has begun on stdout: an error then goes to stderr only. */
  private streamingJson = false

  override async init(): Promise<void> {
    // A reader that goes away (`| head`) ends the command quietly: stop talking to Redis at once.
    watchStdout(() => this.redisClient?.disconnect())
    await super.init()
    const {args, flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as CommandFlags<T>
    this.args = args as CommandArgs<T>
  }

  /** The `.env` this run reads and writes: --env-file, or ./.env. */
  protected envFilePath(): string {
    return this.flags['env-file'] ?? DEFAULT_ENV_FILE
  }

  protected async settings(): Promise<Settings> {
    if (!this.cachedSettings) {
      const explicitPath = this.flags['env-file']
      this.cachedSettings = await loadSettings(this.envFilePath())
      if (explicitPath && !this.cachedSettings.envFileExists) {
        throw new McpAuthError(`Cannot read ${explicitPath}: no such file.`, {code: 'env_missing', exitCode: ExitCode.unreachable})
      }
      // The line's text is not shown: it may hold a secret.
      for (const line of this.cachedSettings.malformedLines) {
        this.note(`Warning: ${this.cachedSettings.envFilePath} line ${line} is not KEY=VALUE (or has an unclosed quote); ignored.`)
      }
    }
    return this.cachedSettings
  }

  /** Where this command's Redis is: flags, then the environment, then `.env`. */
  protected async redisTarget(): Promise<RedisTarget> {
    const flags = this.flags as Partial<Interfaces.InferredFlags<typeof redisFlags>>
    return resolveRedisTarget(await this.settings(), {
      redisUrl: flags['redis-url'],
      redisHost: flags['redis-host'],
      redisPort: flags['redis-port'],
      redisDb: flags['redis-db'],
      cluster: flags.cluster,
      redisCaFile: flags['redis-ca-file'],
    })
  }

  protected async tokenStore(): Promise<TokenStore> {
    if (!this.cachedStore) {
      const target = await this.redisTarget()
      this.redisTimeoutMs = target.commandTimeoutMs
      this.redisClient = await connectRedis(target, {onWarning: (message) => this.note(message)})
      this.cachedStore = new TokenStore(this.redisClient)
    }
    return this.cachedStore
  }

  /**
   * Asks on a terminal; elsewhere requires --yes. Declining exits 130 with
   * nothing changed. `withCounts` words the question with how much will go;
   * it is called only when the question is actually asked, since counting costs.
   */
  protected async confirm(question: string, withCounts?: () => Promise<string>): Promise<void> {
    if ((this.flags as {yes?: boolean}).yes) return
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw usageError(`${question} Refusing without confirmation.`, 'Pass --yes to run it non-interactively.')
    }
    const message = withCounts ? await withCounts() : question
    const {confirm} = await import('@inquirer/prompts')
    // The question names ids and usernames from Redis: escaped like every untrusted text.
    const accepted = await confirm({message: safeForTerminal(message, {limit: MESSAGE_LIMIT}), default: false}, {output: process.stderr})
    if (!accepted) throw cancelledError(NOTHING_CHANGED)
  }

  /**
   * A message for the operator on stderr; stdout stays data only. Messages
   * quote names and reasons from Redis and OAuth servers, so they are escaped
   * here once more (newlines kept) whatever the caller did.
   */
  protected note(message: string): void {
    process.stderr.write(`${safeForTerminal(message, {keepNewlines: true, limit: MESSAGE_LIMIT})}\n`)
  }

  /** A JSON array streamed to stdout, for lists too long to hold in memory. */
  protected jsonArrayWriter(): JsonArrayWriter {
    this.streamingJson = true
    return new JsonArrayWriter()
  }

  /** Progress for a walk over the keyspace; asks Redis for its size only when it will be drawn. */
  protected async progress(label: string): Promise<Progress> {
    const progress = new Progress(label)
    if (progress.enabled && this.cachedStore) progress.setTotal(await this.cachedStore.approximateKeyCount())
    return progress
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<void> {
    if (error instanceof Errors.ExitError) throw error
    if (error instanceof StdoutClosedError || isStdoutClosed()) {
      // The reader went away (`| head`): it has what it wanted, and nobody is left to read an error.
      process.exitCode = ExitCode.ok
      return
    }
    const failure = describeFailure(error, {redisTimeoutSeconds: this.redisTimeoutSeconds(), command: this.usageShape()})
    const message = safeForTerminal(failure.message, {limit: MESSAGE_LIMIT})
    const hint = failure.hint ? safeForTerminal(failure.hint, {limit: MESSAGE_LIMIT}) : undefined
    if (this.jsonEnabled() && !this.streamingJson) {
      this.logJson({error: {code: failure.code, message: failure.message, hint: failure.hint ?? null, exit_code: failure.exitCode}})
      process.stderr.write(`${failure.exitCode === ExitCode.cancelled ? message : `Error: ${message}`}\n`)
    } else if (failure.exitCode === ExitCode.cancelled) {
      process.stderr.write(`${message}\n`)
    } else {
      process.stderr.write(`Error: ${message}\n${hint ? `Hint: ${hint}\n` : ''}`)
      if (failure.exitCode === ExitCode.unexpected && process.env.MCPAUTH_DEBUG) process.stderr.write(`${error.stack}\n`)
    }
    process.exitCode = failure.exitCode
  }

  /** What a usage error needs to point the operator at the right form. */
  private usageShape(): UsageShape {
    const id = this.id ?? '<command>'
    const args = Object.entries(this.ctor.args ?? {}).map(([name, arg]) => (arg.required ? ` <${name}>` : ` [${name}]`))
    return {
      id,
      usage: `${this.config.bin} ${id}${args.join('')} [flags]`,
      flagNames: [...Object.keys(this.ctor.flags ?? {}), ...Object.keys(BaseCommand.baseFlags), 'json', 'help'],
    }
  }

  /** The command timeout in force, to quote it when Redis stops answering. */
  private redisTimeoutSeconds(): number {
    return (this.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS) / 1000
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await closeRedis(this.redisClient)
    await super.finally(error)
  }
}

interface Failure {
  code: string
  message: string
  hint?: string
  exitCode: number
}

/** What ioredis and Node say when a connection goes away mid-command, in mcpauth's words. */
const REDIS_CONNECTION_LOST: Array<[RegExp, string]> = [
  [/ECONNRESET|connection reset/i, 'Redis reset the connection'],
  [/ECONNREFUSED/, 'Redis refused the connection'],
  [/ETIMEDOUT|Socket timeout/i, 'the connection to Redis timed out'],
  [/LOADING/, 'Redis is still loading its data'],
  [/Connection is closed|connection close|Stream isn't writeable|EPIPE|max retries per request/i, 'the connection to Redis closed'],
]
const REDIS_ACCESS_DENIED = /^(NOPERM|NOAUTH|WRONGPASS)/

interface UsageShape {
  id: string
  usage: string
  flagNames: string[]
}

function describeFailure(error: Error, context: {redisTimeoutSeconds: number; command: UsageShape}): Failure {
  const {redisTimeoutSeconds} = context
  if (error instanceof McpAuthError) return {code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode}
  if (error.name === 'ExitPromptError' || error.name === 'AbortPromptError') {
    return {code: 'cancelled', message: NOTHING_CHANGED, exitCode: ExitCode.cancelled}
  }
  if (error instanceof Errors.CLIError) {
    // One line: oclif's list of several errors joined, without its "See more help" (the hint says it better).
    const message = error.message
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && line !== 'The following errors occurred:' && !line.startsWith('See more help with'))
      .join('; ')
    return {code: 'usage', message, hint: usageHint(message, context.command), exitCode: error.oclif?.exit ?? ExitCode.usage}
  }
  if (error.message === 'Command timed out') {
    return {
      code: 'redis_timeout',
      message: `Redis stopped answering: a command got no reply within ${formatDuration(redisTimeoutSeconds)} (REDIS_COMMAND_TIMEOUT).`,
      hint: 'Is Redis paused or overloaded? Every batch finished before is complete and nothing is half-written: run the command again once Redis answers.',
      exitCode: ExitCode.unreachable,
    }
  }
  const lost = REDIS_CONNECTION_LOST.find(([pattern]) => pattern.test(error.message))
  if (lost) {
    return {
      code: 'redis_lost',
      message: `Lost the connection to Redis in the middle of the command: ${lost[1]}.`,
      hint: 'Every batch finished before the loss is complete and nothing is half-written: run the command again once Redis is back.',
      exitCode: ExitCode.unreachable,
    }
  }
  if (/^Protocol error/.test(error.message)) {
    return {
      code: 'redis_protocol',
      message: 'What answers at the Redis address does not speak the Redis protocol (an HTTP server or a proxy?).',
      hint: 'Check REDIS_URL (or --redis-url) and the port.',
      exitCode: ExitCode.unreachable,
    }
  }
  if (REDIS_ACCESS_DENIED.test(error.message)) {
    return {
      code: 'redis_denied',
      message: `Redis refused a command: ${error.message}`,
      hint: 'Check the ACL user and REDIS_PASSWORD.',
      exitCode: ExitCode.unreachable,
    }
  }
  if (isFileSystemError(error)) {
    // A full disk, a read-only file system, a refused permission: the machine's fault, said in one line.
    const failure = fileSystemError(error) as McpAuthError
    return {code: failure.code, message: failure.message, hint: failure.hint, exitCode: failure.exitCode}
  }
  return {code: 'unexpected', message: `Unexpected error: ${error.message}`, hint: 'Set MCPAUTH_DEBUG=1 to see the stack trace.', exitCode: ExitCode.unexpected}
}

/**
 * What to do about a usage error: an id that starts with "-" goes after `--`
 * (ids are random url-safe text), a mistyped flag gets the nearest one, and
 * otherwise the usage line.
 */
function usageHint(message: string, command: UsageShape): string {
  const dashed = /Nonexistent flags?: (-[^-\s,][^\s,]*)/.exec(message)?.[1]
  if (dashed) return `If ${dashed} is an id, put it after --: mcpauth ${command.id} -- ${dashed}`
  const mistyped = /Nonexistent flags?: --([^\s,=]+)/.exec(message)?.[1]
  const nearest = mistyped ? closestName(mistyped, command.flagNames) : undefined
  if (nearest) return `Did you mean --${nearest}? Usage: ${command.usage}`
  return `Usage: ${command.usage}. See mcpauth ${command.id} --help for examples.`
}
