/**
 * Slow-provider benchmark (not a test): how long `generate-jwt-secret
 * --force` takes on a `.env` while `refresh-tokens` waits 10 s for a slow
 * provider's answer on the same file, against the same command alone.
 * Target (issue 14): under a second, the ratio close to 1 (before, the write
 * waited out the whole exchange: ~10 s).
 *
 *   npm run build && node dist/bench/slow-provider.js [--runs 5] [--hold 10]
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from '../test/support/cli.js'
import {namedLoginLines} from '../test/support/logins.js'
import {signedInLogin, startOAuthProvider} from '../test/support/oauth-provider.js'

const option = (name: string, fallback: number) => {
  const index = process.argv.indexOf(name)
  return index === -1 ? fallback : Number(process.argv[index + 1])
}
const runs = option('--runs', 5)
const holdSeconds = option('--hold', 10)
const mcpauth = join(repoRoot, 'bin', 'run.js')

let holding = false
let heldRequests = 0
const provider = await startOAuthProvider({
  accessTokenTtl: 600,
  intercept(request, response) {
    if (!holding || !request.url?.startsWith('/token')) return false
    heldRequests++
    const answer = provider.provider.callback()
    setTimeout(() => answer(request, response), holdSeconds * 1000)
    return true
  },
})

function timeWrite(cwd: string): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, ['--', mcpauth, 'generate-jwt-secret', '--force'], {cwd, stdio: 'ignore'})
  if (result.status !== 0) throw new Error(`generate-jwt-secret exited ${result.status}`)
  return performance.now() - started
}

const alone: number[] = []
const beside: number[] = []
for (let run = 0; run < runs; run++) {
  const cwd = await mkdtemp(join(tmpdir(), 'mcpauth-bench-slow-'))
  await writeFile(join(cwd, '.env'), `${namedLoginLines('SLOW', await signedInLogin(provider)).join('\n')}\n`, {mode: 0o600})
  alone.push(timeWrite(cwd))
  holding = true
  const seen = heldRequests
  const refresh = spawn(process.execPath, ['--', mcpauth, 'refresh-tokens', '--timeout', `${holdSeconds + 20}s`], {cwd, stdio: 'ignore'})
  const finished = new Promise((resolve) => refresh.on('close', resolve))
  while (heldRequests === seen) await new Promise((resolve) => setTimeout(resolve, 20))
  beside.push(timeWrite(cwd))
  holding = false
  await finished
}
await provider.close()

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]
process.stdout.write(`| generate-jwt-secret --force | median of ${runs} |\n|---|---:|\n`)
process.stdout.write(`| alone | ${median(alone).toFixed(0)} ms |\n`)
process.stdout.write(`| while a refresh waits ${holdSeconds} s for its provider | ${median(beside).toFixed(0)} ms |\n`)
process.stdout.write(`| ratio | ${(median(beside) / median(alone)).toFixed(2)}x |\n`)
