import {type ChildProcess, type ChildProcessWithoutNullStreams, spawn} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** dist/test/support -> repository root */
export const repoRoot = resolve(here, '..', '..', '..')
const binPath = join(repoRoot, 'bin', 'run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  input?: string
}

/** Settings that would leak in from the machine running the tests. */
const SCRUBBED = /^(REDIS_|GATEWAY_|OAUTH_|JWT_|MCP_|GITHUB_|BASE_DOMAIN|ACCESS_TOKEN|REFRESH_TOKEN|CLIENT_LIFETIME|MCPAUTH_)/

/**
 * Runs the built `mcpauth` in a child process, the way an operator or CI would.
 * `--` as in bin/run.js's shebang: Node 20 otherwise claims `--env-file` for itself.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return (await spawnCli(args, options)).result
}

/** Like runCli, with the child at hand, for tests that interrupt or kill it. */
export async function spawnCli(args: string[], options: CliOptions = {}): Promise<{child: ChildProcess; result: Promise<CliResult>}> {
  const child = await spawnBuiltCli(args, options)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdin.end(options.input ?? '')
  const result = new Promise<CliResult>((resolvePromise) => child.on('close', (code) => resolvePromise({code, stdout, stderr})))
  return {child, result}
}

/** The built CLI in a child process, with the machine's gateway settings scrubbed from its environment. */
async function spawnBuiltCli(args: string[], options: Omit<CliOptions, 'input'>): Promise<ChildProcessWithoutNullStreams> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !SCRUBBED.test(name)) env[name] = value
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value
  const cwd = options.cwd ?? (await mkdtemp(join(tmpdir(), 'mcpauth-cwd-')))
  const child = spawn(process.execPath, ['--', binPath, ...args], {cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
  // Decoded as a stream: a character split across two chunks must not become two U+FFFD.
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  return child
}

/** Parses stdout as JSON, failing with the whole output when it is not. */
export function parseJson<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
}

export interface RunningCli {
  /** Resolves with the first match of `pattern` on stderr (waiting for more output as needed). */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>
  /** Writes to stdin, e.g. a pasted redirect URL. */
  write(text: string): void
  /** Ends stdin: what a closed terminal or `< /dev/null` gives. */
  endInput(): void
  done: Promise<CliResult>
  /** What the command wrote to stderr so far. */
  stderrSoFar(): string
  /** Sends a signal to the command, as systemd or a terminal would. */
  kill(signal: NodeJS.Signals): void
  pid: number
}

/** Like runCli, for commands a test talks to while they run (sign-in flows). */
export async function startCli(args: string[], options: Omit<CliOptions, 'input'> = {}): Promise<RunningCli> {
  const child = await spawnBuiltCli(args, options)
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => {
    stderr += chunk
    for (const listener of listeners) listener()
  })
  const done = new Promise<CliResult>((resolvePromise) => child.on('close', (code) => resolvePromise({code, stdout, stderr})))
  return {
    waitForStderr: (pattern) =>
      new Promise((resolvePromise, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(stderr)
          if (match) {
            listeners.delete(check)
            resolvePromise(match)
          }
          return Boolean(match)
        }
        if (check()) return
        listeners.add(check)
        void done.then((result) => {
          if (!check()) reject(new Error(`the command ended (exit ${result.code}) before ${pattern} appeared on stderr:\n${result.stderr}`))
        })
      }),
    write: (text) => child.stdin.write(text),
    endInput: () => child.stdin.end(),
    done,
    stderrSoFar: () => stderr,
    kill: (signal) => child.kill(signal),
    pid: child.pid!,
  }
}
