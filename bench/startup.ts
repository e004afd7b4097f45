/**
 * Start-up benchmark (not a test): median wall time of mcpauth's quick
 * answers against `node -e 0`, measured in the same run, the cases taking
 * turns so a machine that gets busier mid-run slows them all alike.
 * Targets (issue 16): `--version` and any `--help` within 2.0x of bare node,
 * `mcp-headers` with a still-valid token (every MCP client connection)
 * within 1.5x. `generate-jwt-secret --print` is a command run in full, through oclif.
 *
 *   npm run build && node dist/bench/startup.js [--runs 21]
 */
import {spawnSync} from 'node:child_process'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from '../test/support/cli.js'

const runsIndex = process.argv.indexOf('--runs')
const runs = runsIndex === -1 ? 21 : Number(process.argv[runsIndex + 1])
const mcpauth = join(repoRoot, 'bin', 'run.js')

// A .env as mcp-client-token leaves it, with a token valid for a day: not due under the default one-hour buffer.
const workspace = await mkdtemp(join(tmpdir(), 'mcpauth-startup-'))
const envFile = join(workspace, '.env')
const expiresAt = Math.floor(Date.now() / 1000) + 86_400
await writeFile(
  envFile,
  [
    'MCP_SERVER_URL=https://mcp.example.com',
    'MCP_CLIENT_ID=bench-client',
    'MCP_CLIENT_SECRET=bench-secret',
    'MCP_CLIENT_ACCESS_TOKEN=bench-access-token',
    `MCP_CLIENT_ACCESS_TOKEN_EXPIRES_AT=${expiresAt}`,
    'MCP_CLIENT_REFRESH_TOKEN=bench-refresh-token',
    '',
  ].join('\n'),
  {mode: 0o600},
)

const cases: Array<{label: string; args: string[]; target?: number}> = [
  {label: 'node -e 0', args: ['-e', '0']},
  {label: 'mcpauth --version', args: ['--', mcpauth, '--version'], target: 2},
  {label: 'mcpauth --help', args: ['--', mcpauth, '--help'], target: 2},
  {label: 'mcpauth oauth-stats --help', args: ['--', mcpauth, 'oauth-stats', '--help'], target: 2},
  {label: 'mcpauth mcp-headers (valid token)', args: ['--', mcpauth, 'mcp-headers', '--env-file', envFile], target: 1.5},
  {label: 'mcpauth generate-jwt-secret --print', args: ['--', mcpauth, 'generate-jwt-secret', '--print']},
]

// The same environment for every case: no DEBUG or colour settings of the shell running the bench.
const env = {PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? workspace}
const times: number[][] = cases.map(() => [])
try {
  for (let run = 0; run < runs; run++) {
    for (const [index, {label, args}] of cases.entries()) {
      const started = performance.now()
      const result = spawnSync(process.execPath, args, {stdio: 'ignore', cwd: workspace, env})
      if (result.status !== 0) throw new Error(`${label} exited ${result.status}`)
      times[index].push(performance.now() - started)
    }
  }
} finally {
  await rm(workspace, {recursive: true, force: true})
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const baseline = median(times[0])
process.stdout.write(`Median of ${runs} runs each, taking turns:\n\n| command | median | ratio to node -e 0 | target |\n|---|---:|---:|---:|\n`)
for (const [index, {label, target}] of cases.entries()) {
  const ms = median(times[index])
  process.stdout.write(`| ${label} | ${ms.toFixed(0)} ms | ${(ms / baseline).toFixed(2)}x | ${target ? `${target.toFixed(1)}x` : ''} |\n`)
}
