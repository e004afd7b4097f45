import {strict as assert} from 'node:assert'
import {createWriteStream} from 'node:fs'
import {copyFile, readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {assertUnchanged, snapshot, tempDir, writeSignedBackup} from '../support/backups.js'
import {type CliResult, parseJson, repoRoot, startCli} from '../support/cli.js'
import {useRedis} from '../support/context.js'

const corpus = join(repoRoot, 'test', 'fixtures', 'hostile', 'backup')
/** ESC, BEL, CR and the other controls a terminal acts on; a message quoting untrusted text must have none. */
function hasTerminalControl(text: string): boolean {
  return [...text].some((char) => {
    const code = char.codePointAt(0)!
    return (code < 0x20 && char !== '\n' && char !== '\t') || (code >= 0x7f && code <= 0x9f)
  })
}

type Expectation = {refused: RegExp} | {restored: (ctx: ReturnType<typeof useRedis>, body: any) => Promise<void>}

/** What each file of the corpus must do: be refused with this reason (exit 2, Redis untouched), or restore and pass the check. */
const EXPECTED: Record<string, Expectation> = {
  'duplicate-key.jsonl': {refused: /is damaged: it lists the key "oauth:token:twice" twice/},
  'duplicate-key-as-base64.jsonl': {refused: /is damaged: it lists the key "oauth:token:same-bytes" twice/},
  'expiry-beyond-any-date.jsonl': {refused: /line 2: expires_at_ms 9007199254740991 is neither null nor a time in milliseconds/},
  'control-characters-in-key.jsonl': {refused: /line 2: key "oauth:user_tokens:\\u001b\]0;owned\\u0007… is an empty set/},
  'legacy-ttl-1e300.json': {refused: /tokens\["huge"\]: ttl 1e\+300 is not a number of seconds/},
  'legacy-ttl-1e20.json': {refused: /tokens\["big"\]: ttl 100000000000000000000 is not a number of seconds/},
  'legacy-control-characters-in-id.json': {refused: /tokens\["\\u001b\[31mred\\u001b\[0m\\r"\]: unknown record type "zset"/},
  'legacy-ttl-zero.json': {
    restored: async (ctx, body) => {
      assert.deepEqual([body.written, body.skipped_expired], [1, 1], 'a TTL of 0 had run out when the backup was taken')
      assert.equal(await ctx.redis.exists('oauth:token:ending'), 0)
    },
  },
  'legacy-timestamp-in-the-future.json': {
    restored: async (ctx, body) => {
      assert.equal(body.written, 1)
      const ttl = await ctx.redis.pttl('oauth:token:alive')
      assert.ok(ttl > 0 && ttl <= 3_600_000, `TTL ${ttl} ms: never above the 3600 s recorded`)
    },
  },
  'legacy-timestamp-1e300.json': {
    restored: async (ctx, body) => {
      assert.deepEqual([body.expiry, body.backup_created_at, body.written], ['as_recorded', null, 1])
      const ttl = await ctx.redis.pttl('oauth:token:alive')
      assert.ok(ttl > 0 && ttl <= 3_600_000, `TTL ${ttl} ms`)
    },
  },
}

function assertQuiet(result: CliResult): void {
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
  assert.ok(!hasTerminalControl(result.stderr), `no raw control character reaches the terminal: ${JSON.stringify(result.stderr)}`)
}

describe('hostile backup files', () => {
  const ctx = useRedis()

  it('every file of the corpus has an expected outcome', async () => {
    assert.deepEqual((await readdir(corpus)).sort(), Object.keys(EXPECTED).sort())
  })

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: ${'refused' in expected ? 'refused as damaged, in every mode, with Redis untouched' : 'restored within what it recorded'}`, async () => {
      const file = join(await tempDir(), name)
      await copyFile(join(corpus, name), file)
      await ctx.redis.set('oauth:client:sentinel', 'present before the restore', 'EX', 600)
      if ('refused' in expected) {
        const before = await snapshot(ctx.redis)
        for (const flags of [['--dry-run'], [], ['--overwrite', '--yes'], ['--clear', '--yes']]) {
          const result = await ctx.cli(['oauth-restore', file, ...flags])
          assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`)
          assert.match(result.stderr, expected.refused)
          assertQuiet(result)
        }
        assertUnchanged(await snapshot(ctx.redis), before)
        return
      }
      const dryRun = await ctx.cli(['oauth-restore', file, '--dry-run', '--json'])
      assert.equal(dryRun.code, 0, dryRun.stderr)
      const result = await ctx.cli(['oauth-restore', file, '--json'])
      assert.equal(result.code, 0, result.stderr)
      assertQuiet(result)
      const pick = ({written, kept, overwritten, skipped_expired}: any) => ({written, kept, overwritten, skipped_expired})
      assert.deepEqual(pick(parseJson(result)), pick(parseJson(dryRun)), 'the dry run said what the real run did')
      await expected.restored(ctx, parseJson(result))
    })
  }

  it('values out of range in an mcpauth backup make it damaged, naming the line, never a crash', async () => {
    const dir = await tempDir()
    for (const [index, expires] of [1e300, -1, 'soon', 1.5, {}].entries()) {
      const file = join(dir, `case-${index}.jsonl`)
      await writeSignedBackup(file, [{key: 'oauth:token:a', type: 'string', value: '{}', expires_at_ms: expires}], {kinds: {token: 1}, types: {string: 1}})
      const result = await ctx.cli(['oauth-restore', file, '--json'])
      assert.equal(result.code, 2, `${JSON.stringify(expires)}: ${result.stderr}`)
      assert.match(parseJson(result).error.message, /is damaged: line 2: expires_at_ms .* is neither null nor a time in milliseconds/)
    }
    assert.deepEqual(await ctx.redis.keys('*'), [])
  })

  it('a key listed twice shows as damaged in oauth-backup-list too', async () => {
    const dir = await tempDir()
    await copyFile(join(corpus, 'duplicate-key.jsonl'), join(dir, 'oauth-backup-20260110-090000.jsonl'))
    const result = await ctx.cli(['oauth-backup-list', '--dir', dir, '--json'])
    assert.equal(result.code, 0, result.stderr)
    const [listing] = parseJson<any[]>(result)
    assert.deepEqual([listing.status, listing.problem], ['damaged', 'is damaged: it lists the key "oauth:token:twice" twice'])
  })
})

describe('backup files that inflate without end', function () {
  this.timeout(180_000)
  const ctx = useRedis()

  /**
   * A gzip file of many members (gunzip reads them as one stream): `head`,
   * then `repeat` bytes of "a" with no end of line, a few MB on disk.
   */
  async function gzipBomb(path: string, head: string, gigabytes: number): Promise<void> {
    const out = createWriteStream(path)
    const block = gzipSync(Buffer.alloc(64 * 1024 * 1024, 'a'), {level: 9})
    out.write(gzipSync(head))
    for (let written = 0; written < gigabytes * 1024; written += 64) {
      if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
    }
    await new Promise<void>((resolve) => out.end(() => resolve()))
  }

  /** Runs oauth-restore, sampling the child's peak resident memory (VmHWM) until it exits. */
  async function restoreMeasured(file: string): Promise<CliResult & {peakRssMb: number}> {
    const running = await startCli(['oauth-restore', file, '--dry-run'], {env: {REDIS_URL: ctx.server.url}})
    let peakKb = 0
    const sample = async (): Promise<void> => {
      try {
        const status = await readFile(`/proc/${running.pid}/status`, 'utf8')
        peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))
      } catch {
        // exited between two samples; VmHWM only grows, so the last sample holds the peak so far
      }
    }
    const sampler = setInterval(sample, 20)
    const result = await running.done
    clearInterval(sampler)
    return {...result, peakRssMb: peakKb / 1024}
  }

  it('a 3 GB line in a 3 MB gzip file is refused as damaged in bounded memory', async () => {
    const file = join(await tempDir(), 'bomb.jsonl.gz')
    const header = {format: 'mcpauth-backup', version: 1, created_at: '2026-01-10T09:00:00.000Z', source: 'redis://x:6379/0', tool: 'test'}
    await gzipBomb(file, `${JSON.stringify(header)}\n{"key":"oauth:token:bomb","type":"string","value":"`, 3)
    const started = Date.now()
    const result = await restoreMeasured(file)
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /is damaged: line 2 is longer than 16 MiB, more than any backup line/)
    assert.ok(result.peakRssMb > 0 && result.peakRssMb < 200, `peak RSS ${result.peakRssMb.toFixed(0)} MB`)
    assert.ok(Date.now() - started < 60_000, 'refused without reading the whole 3 GB')
  })

  it('a gateway JSON file that inflates to 3 GB is refused as too large in bounded memory', async () => {
    const file = join(await tempDir(), 'oauth-backup-20250620-103000.json.gz')
    await gzipBomb(file, '{"timestamp": "2025-06-20T10:30:00+00:00", "tokens": {"a": {"type": "string", "ttl": -1, "value": "', 3)
    const result = await restoreMeasured(file)
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /is a gateway JSON backup of more than 64 MiB/)
    assert.ok(result.peakRssMb > 0 && result.peakRssMb < 200, `peak RSS ${result.peakRssMb.toFixed(0)} MB`)
  })
})
