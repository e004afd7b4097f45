import {readFileSync} from 'node:fs'
import {isIP} from 'node:net'

import type {Cluster, Redis, RedisOptions} from 'ioredis'

import {unreachableError, usageError} from '../errors.js'
import {MESSAGE_LIMIT, safeForTerminal} from '../output.js'
import {ALL_SCRIPTS, type LuaScript} from './scripts.js'
import {type RedisTarget, describeRedisTarget} from './target.js'

export {type RedisTarget, type RedisFlagValues, describeRedisTarget, resolveRedisTarget} from './target.js'

/** One server (possibly found through Sentinel) or a cluster: every command works on both. */
export type RedisClient = Redis | Cluster

/** A command by its ioredis method name, e.g. ['get', key] or a script defined with defineScript. */
export type RedisCommand = [method: string, ...args: Array<string | number | Buffer>]

/** Marks a WRONGTYPE reply among a batch's replies: the key holds another Redis type. */
export const WRONG_TYPE = Symbol('wrong Redis type')

const CONNECT_TIMEOUT_MS = 5000
/** A server that stops answering for this long (a hung or paused Redis) ends the command with exit 4; REDIS_COMMAND_TIMEOUT changes it. */
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000
/** QUIT waits for the replies still due; a server that does not answer it (paused, gone) is not waited for longer. */
const QUIT_TIMEOUT_MS = 1000

/**
 * Opens a connection and proves it works, failing fast with a clear reason
 * (exit 4). What ioredis would print on its own while connecting (its
 * `[WARN] ... a password was supplied` lines, straight to console.warn) is
 * said in mcpauth's words through `onWarning` instead (stderr by default).
 */
export async function connectRedis(target: RedisTarget, options: {onWarning?: (message: string) => void} = {}): Promise<RedisClient> {
  // Loaded here, not at start-up: commands that never touch Redis should not pay for it.
  const {Cluster, Redis} = await import('ioredis')
  const client = target.mode === 'cluster' ? new Cluster(target.nodes, clusterOptions(target)) : new Redis(serverOptions(target))
  let lastError: Error | undefined
  client.on('error', (error: Error) => {
    lastError = error
  })
  const libraryWarnings: string[] = []
  const restoreWarn = captureLibraryWarnings(libraryWarnings)
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    throw explainConnectionFailure(target, (lastError ?? error) as Error)
  } finally {
    restoreWarn()
  }
  const warn = options.onWarning ?? ((message: string) => process.stderr.write(`${safeForTerminal(message, {limit: MESSAGE_LIMIT})}\n`))
  for (const warning of new Set(libraryWarnings.map((text) => explainLibraryWarning(target, text)))) warn(warning)
  if (target.mode !== 'cluster' && target.db !== 0) await selectDatabase(client as Redis, target)
  return client
}

/**
 * Switches to the database the operator named, before any read or write.
 * ioredis sends its own SELECT for the `db` option and only emits an error
 * event when it fails, leaving the connection on database 0: so it is asked
 * for database 0 and the SELECT is sent here, where a refusal ends the command.
 */
async function selectDatabase(client: Redis, target: RedisTarget): Promise<void> {
  try {
    await client.select(target.db)
  } catch (error) {
    client.disconnect()
    const reason = (error as Error).message ?? String(error)
    throw unreachableError(
      `Redis at ${describeRedisTarget(target)} refused database ${target.db}: ${reason}.`,
      /out of range/i.test(reason)
        ? 'A Redis server has 16 databases (0-15) unless its "databases" setting says otherwise: check the number in REDIS_URL, REDIS_DB or --redis-db.'
        : 'Check the database number in REDIS_URL, REDIS_DB or --redis-db.',
      error,
    )
  }
}

export async function closeRedis(client: RedisClient | undefined): Promise<void> {
  if (!client) return
  let timer: NodeJS.Timeout | undefined
  const quitting = client.quit().then(
    () => true,
    () => false,
  )
  const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), QUIT_TIMEOUT_MS)))
  try {
    if (!(await Promise.race([quitting, gaveUp]))) client.disconnect()
  } finally {
    clearTimeout(timer)
  }
}

/** SCAN in batches over every master, so a cluster is walked whole; never KEYS. */
export async function* scanKeys(client: RedisClient, match: string, count: number): AsyncGenerator<string[]> {
  const servers = isCluster(client) ? client.nodes('master') : [client]
  for (const server of servers) {
    for await (const keys of server.scanStream({match, count}) as AsyncIterable<string[]>) {
      if (keys.length > 0) yield keys
    }
  }
}

/**
 * The replies of a script that runs one SCAN step per call and answers the
 * next cursor first, called until the cursor is back at 0. Each next call is
 * sent before the reply it follows is handed over, so Redis works on one step
 * while the caller works on the last.
 */
export async function* scanStepReplies<Reply extends [cursor: string | Buffer, ...rest: unknown[]]>(
  client: RedisClient,
  script: LuaScript,
  argumentsAfterCursor: Array<string | number>,
  options: {buffers?: boolean} = {},
): AsyncGenerator<Reply> {
  const call = (cursor: string): Promise<Reply> => {
    const reply = runScript(client, script, [], [cursor, ...argumentsAfterCursor], options) as Promise<Reply>
    reply.catch(() => {}) // awaited below; this only keeps a failure during the caller's turn from counting as unhandled
    return reply
  }
  let next: Promise<Reply> | undefined = call('0')
  while (next) {
    const reply: Reply = await next
    const cursor: string = String(reply[0])
    next = cursor === '0' ? undefined : call(cursor)
    yield reply
  }
}

/** As scanKeys, with keys as bytes: for backups, which must keep a key that is not UTF-8 as it is. */
export async function* scanKeyBuffers(client: RedisClient, match: string, count: number): AsyncGenerator<Buffer[]> {
  const servers = isCluster(client) ? client.nodes('master') : [client]
  for (const server of servers) {
    for await (const keys of server.scanBufferStream({match, count}) as AsyncIterable<Buffer[]>) {
      if (keys.length > 0) yield keys
    }
  }
}

/**
 * Runs a batch of commands in one round trip per server: a pipeline on one
 * server; on a cluster, commands issued together and auto-pipelined per node
 * (a cluster pipeline may not mix keys of different slots). A WRONGTYPE reply
 * becomes WRONG_TYPE when asked; any other error is thrown.
 */
export async function runCommands(client: RedisClient, commands: RedisCommand[], options: {ignoreWrongType?: boolean} = {}): Promise<unknown[]> {
  if (commands.length === 0) return []
  const results: Array<[Error | null, unknown]> = isCluster(client)
    ? await Promise.all(
        commands.map(([method, ...args]) =>
          callMethod(client, method, args).then(
            (reply) => [null, reply] as [null, unknown],
            (error: Error) => [error, null] as [Error, null],
          ),
        ),
      )
    : ((await client.pipeline(commands).exec()) ?? [])
  return results.map(([error, reply]) => {
    if (!error) return reply
    if (options.ignoreWrongType && error.message.startsWith('WRONGTYPE')) return WRONG_TYPE
    throw error
  })
}

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster
}

/**
 * Registers a Lua script as a command taking its key count first (sent once,
 * then run by its SHA): `[name, numberOfKeys, ...keys, ...args]` in a batch.
 */
export function defineScript(client: RedisClient, script: LuaScript): void {
  if (!(script.name in client)) client.defineCommand(script.name, {lua: script.lua})
}

/**
 * Runs a script over some keys (one call; on a cluster the keys must share a
 * slot). With `buffers`, strings in the reply come back as bytes.
 */
export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keys: Array<string | Buffer>,
  args: Array<string | number | Buffer>,
  options: {buffers?: boolean} = {},
): Promise<unknown> {
  defineScript(client, script)
  return callMethod(client, options.buffers ? `${script.name}Buffer` : script.name, [keys.length, ...keys, ...args])
}

function callMethod(client: RedisClient, method: string, args: Array<string | number | Buffer>): Promise<unknown> {
  const fn = (client as unknown as Record<string, (...args: Array<string | number | Buffer>) => Promise<unknown>>)[method]
  if (typeof fn !== 'function') throw new Error(`unknown Redis command ${method}`)
  return fn.apply(client, args)
}

/** Lines ioredis writes with console.warn (`[WARN] ...`, `[ERROR] ...`) are kept for connectRedis to say in its own words. */
function captureLibraryWarnings(into: string[]): () => void {
  const original = console.warn
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(' ')
    if (/^\[(WARN|ERROR)\] /.test(text)) into.push(text)
    else original(...args)
  }
  return () => {
    console.warn = original
  }
}

function explainLibraryWarning(target: RedisTarget, text: string): string {
  const where = describeRedisTarget(target)
  if (/does not require a password/.test(text)) {
    return `Warning: Redis at ${where} asks for no password, but one was given (REDIS_PASSWORD or the URL's): it is not used. Drop it, or set requirepass on the server.`
  }
  if (/wrong number of arguments for 'auth'/.test(text)) {
    return `Warning: Redis at ${where} is version 5 or older and knows no ACL user: drop the user name from REDIS_URL.`
  }
  return `Warning from the Redis client about ${where}: ${text.replace(/^\[(WARN|ERROR)\] /, '')}`
}

function tlsOptions(target: RedisTarget): RedisOptions['tls'] {
  if (!target.tls) return undefined
  // SNI carries host names only (RFC 6066); an IP address is checked against the certificate without it.
  const servername = isIP(target.host) ? undefined : target.host
  if (!target.caFile) return {servername}
  try {
    return {servername, ca: readFileSync(target.caFile)}
  } catch (error) {
    throw usageError(`Cannot read the Redis CA file ${target.caFile}: ${(error as NodeJS.ErrnoException).code ?? error}.`)
  }
}

function serverOptions(target: RedisTarget): RedisOptions {
  const common: RedisOptions = {
    // The database is selected by selectDatabase, which fails loudly where ioredis would not.
    db: 0,
    username: target.username,
    password: target.password,
    tls: tlsOptions(target),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // One timer per command; batches are single script calls, so this stays cheap.
    commandTimeout: target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // ioredis otherwise keeps a failed socket's process alive for 2 s.
    disconnectTimeout: 200,
    // CLIENT SETINFO before the ready check would make a paused server cost two timeouts at connect instead of one.
    disableClientInfo: true,
  }
  if (target.mode === 'sentinel') {
    return {
      ...common,
      sentinels: target.nodes,
      name: target.sentinelName,
      sentinelPassword: target.sentinelPassword,
      sentinelRetryStrategy: () => null,
      enableOfflineQueue: true,
    }
  }
  return {...common, host: target.host, port: target.port}
}

function clusterOptions(target: RedisTarget): ConstructorParameters<typeof Cluster>[1] {
  return {
    lazyConnect: true,
    enableAutoPipelining: true,
    // Auto-pipelining picks a script's node from its first argument, the key count (ioredis #2109): send scripts directly.
    autoPipeliningIgnoredCommands: [...ALL_SCRIPTS.map((script) => script.name), 'eval', 'evalsha'],
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    redisOptions: {
      username: target.username,
      password: target.password,
      tls: tlsOptions(target),
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      disconnectTimeout: 200,
      disableClientInfo: true,
    },
  }
}

function explainConnectionFailure(target: RedisTarget, error: Error): Error {
  const where = describeRedisTarget(target)
  const code = (error as NodeJS.ErrnoException).code
  const message = error.message ?? String(error)
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return unreachableError(
      `Cannot resolve Redis host "${target.host}" (${where}).`,
      target.host === 'redis'
        ? 'In a compose setup "redis" only resolves inside the compose network. From your shell use --redis-url redis://127.0.0.1:6379 (with the port published) or set REDIS_URL in the environment.'
        : 'Check REDIS_URL / REDIS_HOST, or pass --redis-url.',
      error,
    )
  }
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return unreachableError(`Redis at ${where} refused the credentials.`, 'Check REDIS_PASSWORD (and the ACL user in REDIS_URL).', error)
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED|None of startup nodes is available|All sentinels are unreachable/.test(message)) {
    return unreachableError(`Cannot connect to Redis at ${where}: connection refused.`, 'Is Redis running and is its port published to this machine?', error)
  }
  if (/certificate|self.signed|unable to verify/i.test(message)) {
    return unreachableError(
      `TLS to Redis at ${where} failed: ${message}.`,
      'Point --redis-ca-file (or REDIS_TLS_CA_FILE) at the CA that signed the server certificate.',
      error,
    )
  }
  if (message === 'Command timed out') {
    const seconds = (target.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) / 1000
    return unreachableError(
      `Redis at ${where} accepted the connection but did not answer within ${seconds}s.`,
      'Is it paused, overloaded or still loading its data? REDIS_COMMAND_TIMEOUT sets how long to wait.',
      error,
    )
  }
  if (code === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return unreachableError(`Redis at ${where} did not answer within ${CONNECT_TIMEOUT_MS / 1000}s.`, undefined, error)
  }
  if (/^Protocol error/.test(message)) {
    return unreachableError(
      `What answers at ${where} does not speak the Redis protocol.`,
      'Check the host and port in REDIS_URL (or --redis-url): is it an HTTP server or a proxy?',
      error,
    )
  }
  return unreachableError(`Cannot use Redis at ${where}: ${message}`, undefined, error)
}
