import {type ChildProcess, spawn} from 'node:child_process'
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
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !SCRUBBED.test(name)) env[name] = value
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value
  const cwd = options.cwd ?? (await mkdtemp(join(tmpdir(), 'mcpauth-cwd-')))
  const child = spawn(process.execPath, ['--', binPath, ...args], {cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdin.end(options.input ?? '')
  const result = new Promise<CliResult>((resolvePromise) => child.on('close', (code) => resolvePromise({code, stdout, stderr})))
  return {child, result}
}

/** Parses stdout as JSON, failing with the whole output when it is not. */
export function parseJson<T = any>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
}
