/**
 * Start-up benchmark (not a test): median wall time of `mcpauth --version`
 * and `mcpauth generate-jwt-secret --print` against `node -e 0`, measured
 * in the same run. Target (issue 7): within 3x of bare node.
 *
 *   npm run build && node dist/bench/startup.js [--runs 15]
 */
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'

import {repoRoot} from '../test/support/cli.js'

const runsIndex = process.argv.indexOf('--runs')
const runs = runsIndex === -1 ? 15 : Number(process.argv[runsIndex + 1])
const mcpauth = join(repoRoot, 'bin', 'run.js')

const cases: Array<[label: string, args: string[]]> = [
  ['node -e 0', ['-e', '0']],
  ['mcpauth --version', ['--', mcpauth, '--version']],
  ['mcpauth generate-jwt-secret --print', ['--', mcpauth, 'generate-jwt-secret', '--print']],
]

const medians = cases.map(([label, args]) => {
  const times: number[] = []
  for (let run = 0; run < runs; run++) {
    const started = performance.now()
    const result = spawnSync(process.execPath, args, {stdio: 'ignore'})
    if (result.status !== 0) throw new Error(`${label} exited ${result.status}`)
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  return {label, ms: times[Math.floor(times.length / 2)]}
})

const baseline = medians[0].ms
process.stdout.write(`| command | median | ratio to node -e 0 |\n|---|---:|---:|\n`)
for (const {label, ms} of medians) process.stdout.write(`| ${label} | ${ms.toFixed(0)} ms | ${(ms / baseline).toFixed(2)}x |\n`)
