/**
 * Scale benchmark (not a test): fills a private redis-server the way a busy
 * gateway would, then times each Redis command of mcpauth against a bare
 * ioredis loop doing the same walk in the same run, and records peak RSS.
 *
 *   npm run build && node dist/bench/scale.js [--tokens 1000000] [--only purge,restore]
 *   node dist/bench/scale.js --help
 *
 * Targets (issue 7): every command within 1.5x of its baseline, peak RSS
 * under 200 MB whatever the record count.
 */
import {spawn} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from '../test/support/cli.js'
import {TestRedisServer} from '../test/support/redis-server.js'
import {baselines} from './baselines.js'
import {fillGateway, refillExpiredTokens} from './fill.js'

interface Measurement {
  name: string
  seconds: number
  peakRssMb: number
  baselineSeconds: number
}

const USAGE = `Usage: node dist/bench/scale.js [options]
  --tokens N             access tokens to fill (default 1000000); 0.3 N refresh tokens, 10,000 clients, 100,000 user sets
  --only LIST            comma-separated subset of: ${['stats', 'list', 'table', 'backup', 'restore', 'purge'].join(', ')} (restore implies backup)
  --node-option FLAG     passed to node for each mcpauth run, e.g. --cpu-prof (repeatable)
  --redis-stats          print Redis INFO commandstats of the source server after each mcpauth run
`
if (process.argv.includes('--help')) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const tokenCount = Number(argument('--tokens') ?? 1_000_000)
const only = new Set(argument('--only')?.split(',') ?? ['stats', 'list', 'table', 'backup', 'restore', 'purge'])
if (only.has('restore')) only.add('backup')
const nodeOptions = process.argv.flatMap((value, index) => (process.argv[index - 1] === '--node-option' ? [value] : []))
const printRedisStats = process.argv.includes('--redis-stats')
const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}

const source = await new TestRedisServer().start(['--maxmemory', '0'])
const target = await new TestRedisServer().start(['--maxmemory', '0'])
const workDir = await mkdtemp(join(tmpdir(), 'mcpauth-bench-'))
const redis = source.client()
const results: Measurement[] = []
try {
  const shape = await fillGateway(redis, tokenCount)
  log(`filled: ${JSON.stringify(shape)} (${shape.totalKeys.toLocaleString('en-US')} keys)`)
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
    await measure('oauth-backup', ['oauth-backup', '--output', backupFile], () => baselines.dumpToFile(redis, join(workDir, 'baseline.jsonl')))
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
      () => refillExpiredTokens(redis, tokenCount),
    )
  }
  report()
} finally {
  redis.disconnect()
  await source.stop()
  await target.stop()
  await rm(workDir, {recursive: true, force: true})
}

/** Baseline first, then the command, each after `reset` so both see the same data. */
async function measure(
  name: string,
  args: string[],
  baseline: () => Promise<unknown>,
  env: Record<string, string> = {},
  reset: () => Promise<unknown> = async () => {},
): Promise<void> {
  await reset()
  const baselineStart = performance.now()
  await baseline()
  const baselineSeconds = (performance.now() - baselineStart) / 1000
  await reset()
  if (printRedisStats) await redis.config('RESETSTAT')
  const {seconds, peakRssMb} = await runCommand(args, {REDIS_URL: source.url, ...env})
  if (printRedisStats) log(`${name}: Redis commandstats\n${await redis.info('commandstats')}`)
  results.push({name, seconds, peakRssMb, baselineSeconds})
  log(`${name}: ${seconds.toFixed(1)} s (baseline ${baselineSeconds.toFixed(1)} s), peak RSS ${peakRssMb.toFixed(0)} MB`)
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
  const lines = [`| command | wall time | tokens/s | peak RSS | bare loop | ratio |`, `|---|---:|---:|---:|---:|---:|`]
  for (const result of results) {
    const ratio = result.seconds / result.baselineSeconds
    lines.push(
      `| ${result.name} | ${result.seconds.toFixed(1)} s | ${Math.round(tokenCount / result.seconds).toLocaleString('en-US')} | ${result.peakRssMb.toFixed(0)} MB | ${result.baselineSeconds.toFixed(1)} s | ${ratio.toFixed(2)}x |`,
    )
  }
  process.stdout.write(`\n${tokenCount.toLocaleString('en-US')} access tokens\n${lines.join('\n')}\n`)
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name)
  return index === -1 ? undefined : process.argv[index + 1]
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}
