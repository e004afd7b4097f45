/**
 * Scale benchmark (not a test): fills a private redis-server the way a busy
 * gateway would, then times each Redis command of mcpauth against a bare
 * ioredis loop doing the same walk in the same run, and records peak RSS.
 *
 *   npm run build && node dist/bench/scale.js [--tokens 1000000] [--only purge,restore] [--repeat 3]
 *   node dist/bench/scale.js --help
 *
 * Targets (issue 16): oauth-stats at most 0.5x its bare loop, the other
 * commands at most 1.0x, peak RSS under 150 MB at 1M and 3M tokens, and no
 * Redis command of mcpauth's over 10 ms (the longest SLOWLOG entry is
 * printed next to each time; on a busy machine CPU waits alone push single
 * commands over 10 ms, so look at the scripts).
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {createWriteStream} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Redis} from 'ioredis'

import {ALL_SCRIPTS} from '../src/redis/scripts.js'
import {repoRoot} from '../test/support/cli.js'
import {TestRedisServer} from '../test/support/redis-server.js'
import {baselines} from './baselines.js'
import {fillGateway, refillExpiredTokens} from './fill.js'

interface Measurement {
  name: string
  /** Medians over the --repeat runs; the ratio is the median of each run's own ratio. */
  seconds: number
  baselineSeconds: number
  ratio: number
  /** CPU seconds Redis spent while mcpauth ran, and while the bare loop did (median). */
  redisCpu: number
  baselineRedisCpu: number
  peakRssMb: number
  /** The longest command Redis logged while mcpauth ran (SLOWLOG, over 10 ms), and how many it logged. */
  slowest?: SlowCommand
  slowCount: number
}

interface SlowCommand {
  micros: number
  command: string
}

const USAGE = `Usage: node dist/bench/scale.js [options]
  --tokens N             access tokens to fill (default 1000000); 0.3 N refresh tokens, N/100 clients, N/10 user sets
  --users N, --clients N how many users and clients the tokens belong to (default N/10 and N/100)
  --only LIST            comma-separated subset of: ${['stats', 'list', 'table', 'backup', 'restore', 'purge'].join(', ')} (restore implies backup)
  --node-option FLAG     passed to node for each mcpauth run, e.g. --cpu-prof (repeatable)
  --repeat N             run each bare loop and command N times, alternately, and print medians (default 1)
  --redis-stats          print Redis INFO commandstats of the source server after each mcpauth run
`
if (process.argv.includes('--help')) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const tokenCount = Number(argument('--tokens') ?? 1_000_000)
const fillShape = {
  tokens: tokenCount,
  users: argument('--users') === undefined ? undefined : Number(argument('--users')),
  clients: argument('--clients') === undefined ? undefined : Number(argument('--clients')),
}
const only = new Set(argument('--only')?.split(',') ?? ['stats', 'list', 'table', 'backup', 'restore', 'purge'])
if (only.has('restore')) only.add('backup')
const nodeOptions = process.argv.flatMap((value, index) => (process.argv[index - 1] === '--node-option' ? [value] : []))
const printRedisStats = process.argv.includes('--redis-stats')
const repeat = Number(argument('--repeat') ?? 1)
if (!Number.isInteger(repeat) || repeat < 1) {
  process.stderr.write(`--repeat takes a whole number of runs, 1 or more, not "${argument('--repeat')}"\n${USAGE}`)
  process.exit(2)
}
const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}

const source = await new TestRedisServer().start(['--maxmemory', '0'])
const target = await new TestRedisServer().start(['--maxmemory', '0'])
const workDir = await mkdtemp(join(tmpdir(), 'mcpauth-bench-'))
const redis = source.client()
const results: Measurement[] = []
let shapeLine = ''
const scriptNames = new Map(ALL_SCRIPTS.map((script) => [createHash('sha1').update(script.lua).digest('hex'), script.name]))
try {
  const shape = await fillGateway(redis, fillShape)
  shapeLine = `${shape.refresh.toLocaleString('en-US')} refresh tokens, ${shape.clients.toLocaleString('en-US')} clients, ${shape.userIndexSets.toLocaleString('en-US')} users; ${shape.totalKeys.toLocaleString('en-US')} keys`
  log(`filled: ${shapeLine}`)
  if (only.has('stats')) await measure('oauth-stats', ['oauth-stats', '--json'], () => baselines.scanAndRead(redis, 'oauth:*'))
  if (only.has('list')) await measure('oauth-list-tokens --json', ['oauth-list-tokens', '--json'], () => baselines.scanAndRead(redis, 'oauth:token:*'))
  // The whole list as a table for a person, against the same list as --json (issue 18: within 2x, under 300 MB).
  if (only.has('table')) {
    await measure('oauth-list-tokens --limit 0 (table; baseline: --json)', ['oauth-list-tokens', '--limit', '0'], () =>
      runCommand(['oauth-list-tokens', '--json'], {REDIS_URL: source.url}),
    )
  }
  if (only.has('backup') && 'oauth-backup' in manifest.commands) {
    const backupFile = join(workDir, 'bench.jsonl')
    // A backup never overwrites a file: each run starts without the last one's.
    await measure(
      'oauth-backup',
      ['oauth-backup', '--output', backupFile],
      () => baselines.dumpToFile(redis, join(workDir, 'baseline.jsonl')),
      {},
      () => rm(backupFile, {force: true}),
    )
    const empty = target.client()
    if (only.has('restore')) {
      await measure(
        'oauth-restore (empty Redis)',
        ['oauth-restore', backupFile, '--yes'],
        () => baselines.restoreFromFile(empty, join(workDir, 'baseline.jsonl')),
        {REDIS_URL: target.url},
        async () => {
          await empty.flushdb()
        },
        empty,
      )
    }
    empty.disconnect()
  }
  if (only.has('purge')) {
    await measure(
      'oauth-purge-expired --yes',
      ['oauth-purge-expired', '--yes', '--json'],
      () => baselines.purgeExpired(redis),
      {},
      () => refillExpiredTokens(redis, fillShape),
    )
  }
  report()
} finally {
  redis.disconnect()
  await source.stop()
  await target.stop()
  await rm(workDir, {recursive: true, force: true})
}

/**
 * Baseline first, then the command, each after `reset` so both see the same
 * data; `repeat` times over, so that one run disturbed by the machine does
 * not decide the figure.
 */
async function measure(
  name: string,
  args: string[],
  baseline: () => Promise<unknown>,
  env: Record<string, string> = {},
  reset: () => Promise<unknown> = async () => {},
  watched: Redis = redis,
): Promise<void> {
  const runs: Array<{seconds: number; baselineSeconds: number; redisCpu: number; baselineRedisCpu: number}> = []
  let peakRssMb = 0
  let slowCount = 0
  let slowest: SlowCommand | undefined
  for (let run = 0; run < repeat; run++) {
    await reset()
    const baselineRun = await timed(watched, baseline)
    await reset()
    if (printRedisStats) await watched.config('RESETSTAT')
    await resetSlowlog(watched)
    const commandRun = await timed(watched, () => runCommand(args, {REDIS_URL: source.url, ...env}))
    const slowlog = await readSlowlog(watched)
    if (printRedisStats) log(`${name}: Redis commandstats\n${await watched.info('commandstats')}`)
    peakRssMb = Math.max(peakRssMb, commandRun.value.peakRssMb)
    slowCount = Math.max(slowCount, slowlog.slowCount)
    if (slowlog.slowest && (!slowest || slowlog.slowest.micros > slowest.micros)) slowest = slowlog.slowest
    runs.push({seconds: commandRun.seconds, baselineSeconds: baselineRun.seconds, redisCpu: commandRun.redisCpu, baselineRedisCpu: baselineRun.redisCpu})
    log(
      `${name}: ${commandRun.seconds.toFixed(1)} s (baseline ${baselineRun.seconds.toFixed(1)} s), Redis CPU ${commandRun.redisCpu.toFixed(1)} s (baseline ${baselineRun.redisCpu.toFixed(1)} s), peak RSS ${commandRun.value.peakRssMb.toFixed(0)} MB, longest Redis command ${describeSlowest(slowlog.slowest, slowlog.slowCount)}`,
    )
  }
  results.push({
    name,
    seconds: median(runs.map((run) => run.seconds)),
    baselineSeconds: median(runs.map((run) => run.baselineSeconds)),
    ratio: median(runs.map((run) => run.seconds / run.baselineSeconds)),
    redisCpu: median(runs.map((run) => run.redisCpu)),
    baselineRedisCpu: median(runs.map((run) => run.baselineRedisCpu)),
    peakRssMb,
    slowest,
    slowCount,
  })
}

/** Wall time of `work`, and the CPU time the Redis server spent meanwhile (INFO cpu: its own, not time spent waiting for a core). */
async function timed<T>(server: Redis, work: () => Promise<T>): Promise<{value: T; seconds: number; redisCpu: number}> {
  const cpuBefore = await redisCpuSeconds(server)
  const started = performance.now()
  const value = await work()
  const seconds = (performance.now() - started) / 1000
  return {value, seconds, redisCpu: (await redisCpuSeconds(server)) - cpuBefore}
}

async function redisCpuSeconds(server: Redis): Promise<number> {
  const info = await server.info('cpu')
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  return field('used_cpu_user') + field('used_cpu_sys')
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Logs every command that takes Redis 10 ms or more of its own time (SLOWLOG), from now on. */
async function resetSlowlog(server: Redis): Promise<void> {
  await server.config('SET', 'slowlog-log-slower-than', '10000')
  await server.config('SET', 'slowlog-max-len', '10000')
  await server.slowlog('RESET')
}

async function readSlowlog(server: Redis): Promise<{slowest?: SlowCommand; slowCount: number}> {
  const entries = (await server.slowlog('GET', 10_000)) as Array<[number, number, number, Array<string>]>
  let slowest: SlowCommand | undefined
  for (const [, , micros, args] of entries) {
    if (!slowest || micros > slowest.micros) slowest = {micros, command: slowCommandName(args)}
  }
  return {slowest, slowCount: entries.length}
}

/** The command and, for a script, which one (by the SHA ioredis sends), so a slow script can be told from a slow GET. */
function slowCommandName(args: string[]): string {
  const name = String(args[0] ?? '?').toUpperCase()
  if (name !== 'EVALSHA' && name !== 'EVAL') return name
  return `${name} ${scriptNames.get(String(args[1])) ?? String(args[1]).slice(0, 8)}`
}

function describeSlowest(slowest: SlowCommand | undefined, count: number): string {
  if (!slowest) return 'under 10 ms'
  return `${(slowest.micros / 1000).toFixed(1)} ms (${slowest.command}; ${count} over 10 ms)`
}

/** Runs mcpauth with stdout to /dev/null, sampling its peak RSS (VmHWM) until it exits. */
async function runCommand(args: string[], env: Record<string, string>): Promise<{seconds: number; peakRssMb: number}> {
  const devNull = createWriteStream('/dev/null')
  await new Promise((resolve) => devNull.on('open', resolve))
  const started = performance.now()
  const child = spawn(process.execPath, [...nodeOptions, '--', join(repoRoot, 'bin', 'run.js'), ...args], {
    env: {...process.env, ...env},
    stdio: ['ignore', devNull, 'inherit'],
  })
  let peakKb = 0
  const sampler = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))
    } catch {
      // exited between two samples
    }
  }, 25)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearInterval(sampler)
  devNull.close()
  if (code !== 0) throw new Error(`mcpauth ${args.join(' ')} exited ${code}`)
  return {seconds: (performance.now() - started) / 1000, peakRssMb: peakKb / 1024}
}

function report(): void {
  const lines = ['| command | wall time | bare loop | ratio | Redis CPU (bare loop) | peak RSS | longest Redis command |', '|---|---:|---:|---:|---:|---:|---|']
  for (const result of results) {
    lines.push(
      `| ${result.name} | ${result.seconds.toFixed(1)} s | ${result.baselineSeconds.toFixed(1)} s | ${result.ratio.toFixed(2)}x | ${result.redisCpu.toFixed(1)} s (${result.baselineRedisCpu.toFixed(1)} s) | ${result.peakRssMb.toFixed(0)} MB | ${describeSlowest(result.slowest, result.slowCount)} |`,
    )
  }
  const runs = repeat === 1 ? '' : `; medians of ${repeat} runs each, peak RSS and slow log the worst run's`
  process.stdout.write(`\n${tokenCount.toLocaleString('en-US')} access tokens (${shapeLine}${runs})\n${lines.join('\n')}\n`)
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
