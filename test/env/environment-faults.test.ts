import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {chmod, mkdir, mkdtemp, readFile, readdir, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Redis} from 'ioredis'

import {type CliResult, repoRoot} from '../support/cli.js'
import {tokenLines} from '../support/mcp-workspace.js'
import {TestRedisServer} from '../support/redis-server.js'

const BIN = join(repoRoot, 'bin', 'run.js')
const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/
const ENV_TEXT = 'BASE_DOMAIN=example.com\nGATEWAY_JWT_SECRET=kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n'
/** Well under the 30 s mcpauth waits for a lock another process holds. */
const PROMPTLY_MS = 10_000

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`

/**
 * Runs `setup` then mcpauth in a shell, in a private mount namespace of its
 * own (`unshare -rm`: no privilege needed where user namespaces are allowed,
 * and nothing mounted outlives the command). `$DISK` is a 64 KiB tmpfs with
 * the .env copied in; the shell prints mcpauth's exit code and the .env as it
 * was left on fd 3, since the tmpfs is gone once the shell ends.
 */
async function runOnSmallDisk(
  setup: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult & {ms: number; envAfter: string; diskAfter: string[]}> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-fault-'))
  await writeFile(join(dir, 'seed.env'), ENV_TEXT, {mode: 0o600})
  await mkdir(join(dir, 'disk'))
  const script = [
    'set -e',
    `DISK=${quote(join(dir, 'disk'))}`,
    'mount -t tmpfs -o size=64k,mode=0755 tmpfs "$DISK"',
    `cp ${quote(join(dir, 'seed.env'))} "$DISK/.env"`,
    setup,
    'cd "$DISK"',
    'set +e',
    `start=$(date +%s%N); ${quote(process.execPath)} -- ${quote(BIN)} ${args.map(quote).join(' ')}; code=$?; end=$(date +%s%N)`,
    `echo "$code $(( (end - start) / 1000000 ))" > ${quote(join(dir, 'outcome'))}`,
    `cp "$DISK/.env" ${quote(join(dir, 'after.env'))} 2>/dev/null`,
    `ls -A "$DISK" > ${quote(join(dir, 'listing'))}`,
  ].join('\n')
  const result = await new Promise<CliResult>((resolve) => {
    const child = spawn('unshare', ['-rm', 'sh', '-c', script], {env: {PATH: process.env.PATH, HOME: dir, ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
  const outcome = await readFile(join(dir, 'outcome'), 'utf8').catch(() => {
    throw new Error(`the shell did not get to run mcpauth (exit ${result.code}): ${result.stderr}`)
  })
  const [code, ms] = outcome.trim().split(' ').map(Number)
  return {
    ...result,
    code,
    ms,
    envAfter: await readFile(join(dir, 'after.env'), 'utf8').catch(() => ''),
    diskAfter: (await readFile(join(dir, 'listing'), 'utf8')).split('\n').filter(Boolean),
  }
}

/** Leaves a few hundred bytes free on $DISK. */
const FILL_DISK = 'head -c 1000000 /dev/zero > "$DISK/filler" 2>/dev/null || true'
const READ_ONLY = 'mount -o remount,ro "$DISK"'

function assertOneLine(result: CliResult, pattern: RegExp): void {
  const lines = result.stderr.trim().split('\n')
  assert.match(lines[0], pattern, result.stderr)
  assert.ok(lines.length === 1 || (lines.length === 2 && lines[1].startsWith('Hint: ')), result.stderr)
  assert.doesNotMatch(result.stderr, STACK_TRACE)
  assert.doesNotMatch(result.stderr, /Unexpected error/)
}

describe('a full disk, a read-only file system, a refused permission', function () {
  this.timeout(60_000)

  it('generate-jwt-secret on a full disk: exit 4 at once, one line, .env as it was', async () => {
    const result = await runOnSmallDisk(FILL_DISK, ['generate-jwt-secret', '--force'])
    assert.equal(result.code, 4, result.stderr)
    assertOneLine(result, /^Error: Cannot (write|create the lock) .*: the disk is full \(ENOSPC\)\.$/)
    assert.ok(result.ms < PROMPTLY_MS, `${result.ms} ms`)
    assert.equal(result.envAfter, ENV_TEXT)
    assert.deepEqual(result.diskAfter.sort(), ['.env', 'filler'], 'no temporary file or lock is left')
  })

  it('generate-jwt-secret on a read-only file system: exit 4 at once (no 30 s lock wait), one line', async () => {
    const result = await runOnSmallDisk(READ_ONLY, ['generate-jwt-secret', '--force'])
    assert.equal(result.code, 4, result.stderr)
    assertOneLine(result, /^Error: Cannot create the lock .*\.env\.lock: the file system is read-only \(EROFS\)\.$/)
    assert.ok(result.ms < PROMPTLY_MS, `${result.ms} ms`)
    assert.equal(result.envAfter, ENV_TEXT)
  })

  it('--json on a read-only file system: the error object says exit 4', async () => {
    const result = await runOnSmallDisk(READ_ONLY, ['generate-jwt-secret', '--force', '--json'])
    assert.equal(result.code, 4, result.stderr)
    assert.equal(JSON.parse(result.stdout).error.exit_code, 4)
    assert.equal(JSON.parse(result.stdout).error.code, 'file_system')
    assert.ok(result.ms < PROMPTLY_MS, `${result.ms} ms`)
  })

  it('mcp-config into a full disk: exit 4, one line, no half-written config', async () => {
    const token = 'full-disk-token-0123456789abcdef'
    const setup = `${FILL_DISK}\nprintf '%s\\n' ${tokenLines(token).map(quote).join(' ')} > "$DISK/.env" || true`
    const result = await runOnSmallDisk(setup, ['mcp-config', '--client', 'cursor', '--server', `fetch=https://mcp.example.com/mcp/${'x'.repeat(2000)}`])
    assert.equal(result.code, 4, result.stderr)
    assertOneLine(result, /^Error: Cannot (write|create the (lock|directory)) .*: the disk is full \(ENOSPC\)\.$/)
    assert.ok(!result.diskAfter.some((name) => name.endsWith('.tmp')), result.diskAfter.join(' '))
  })

  it('a directory this user may not write: exit 4 at once, one line (EACCES)', async () => {
    // Root may write anywhere: as root the command runs as nobody (uid 65534), as anyone else as itself.
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-eacces-'))
    const locked = join(dir, 'locked')
    await mkdir(locked)
    await writeFile(join(locked, '.env'), ENV_TEXT, {mode: 0o644})
    await chmod(locked, 0o555)
    await chmod(dir, 0o755)
    const asOther = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
    const command = [...asOther, process.execPath, '--', BIN, 'generate-jwt-secret', '--force', '--env-file', join(locked, '.env')]
    const started = Date.now()
    const result = await new Promise<CliResult>((resolve) => {
      const child = spawn(command[0], command.slice(1), {cwd: dir, env: {PATH: process.env.PATH, HOME: dir}})
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk) => (stdout += chunk))
      child.stderr.on('data', (chunk) => (stderr += chunk))
      child.on('close', (code) => resolve({code, stdout, stderr}))
    })
    assert.equal(result.code, 4, result.stderr)
    assertOneLine(result, /^Error: Cannot create the lock .*\.env\.lock: permission denied \(EACCES\)\.$/)
    assert.ok(Date.now() - started < PROMPTLY_MS)
    assert.equal(await readFile(join(locked, '.env'), 'utf8'), ENV_TEXT)
  })

  describe('oauth-backup', () => {
    const server = new TestRedisServer()
    let redis: Redis
    before(async () => {
      await server.start()
      redis = server.client()
      // About 300 KB of records: more than the small disk holds.
      const pipeline = redis.pipeline()
      for (let index = 0; index < 300; index++) {
        pipeline.set(`oauth:token:full-disk-${index}`, JSON.stringify({username: 'u', client_id: 'c', pad: 'p'.repeat(1000)}), 'EX', 3600)
      }
      await pipeline.exec()
    })
    after(async () => {
      redis.disconnect()
      await server.stop()
    })

    it('onto a full disk: exit 4, one line, and no backup or temporary file left behind', async () => {
      const result = await runOnSmallDisk('', ['oauth-backup', '--output', 'backups/full.jsonl'], {REDIS_URL: server.url})
      assert.equal(result.code, 4, result.stderr)
      assertOneLine(result, /^Error: Cannot write the backup backups\/full\.jsonl: the disk is full \(ENOSPC\)\.$/)
      assert.deepEqual(result.diskAfter.sort(), ['.env', 'backups'])
    })
  })
})

describe('directories mcpauth creates are 0700 whatever the umask', function () {
  this.timeout(60_000)

  /** Runs mcpauth under umask 000, where a plain mkdir would make directories anyone may write. */
  function runUnderUmask(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn('sh', ['-c', `umask 000 && exec ${quote(process.execPath)} -- ${quote(BIN)} ${args.map(quote).join(' ')}`], {
        cwd,
        env: {PATH: process.env.PATH, HOME: cwd, ...env},
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk) => (stdout += chunk))
      child.stderr.on('data', (chunk) => (stderr += chunk))
      child.on('close', (code) => resolve({code, stdout, stderr}))
    })
  }
  const modeOf = async (path: string) => (await stat(path)).mode & 0o777

  it('client configs: every directory made on the way to the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-umask-'))
    await writeFile(join(dir, '.env'), `${tokenLines('umask-token-0123456789abcdef').join('\n')}\n`, {mode: 0o600})
    const result = await runUnderUmask(['mcp-config', '--client', 'cursor', '--output', 'a/b/mcp.json', '--server', 'fetch=https://mcp.example.com/mcp'], dir)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(await modeOf(join(dir, 'a')), 0o700)
    assert.equal(await modeOf(join(dir, 'a', 'b')), 0o700)
    const standard = await runUnderUmask(['mcp-config', '--client', 'vscode', '--server', 'fetch=https://mcp.example.com/mcp'], dir)
    assert.equal(standard.code, 0, standard.stderr)
    assert.equal(await modeOf(join(dir, '.vscode')), 0o700)
  })

  it("the daemon's log and PID file directories", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-umask-'))
    await writeFile(join(dir, '.env'), 'A=1\n', {mode: 0o600})
    const daemon = spawn(
      'sh',
      [
        '-c',
        `umask 000 && exec ${quote(process.execPath)} -- ${quote(BIN)} refresh-tokens --watch --interval 1 --log-file logs/deep/refresh.log --pid-file run/mcpauth/refresh.pid`,
      ],
      {cwd: dir, env: {PATH: process.env.PATH, HOME: dir}},
    )
    const exited = new Promise((resolve) => daemon.on('close', resolve))
    try {
      const deadline = Date.now() + 30_000
      while (!(await readFile(join(dir, 'logs', 'deep', 'refresh.log'), 'utf8').catch(() => '')).includes('started')) {
        assert.ok(Date.now() < deadline, 'the daemon did not start')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      for (const made of ['logs', 'logs/deep', 'run', 'run/mcpauth']) assert.equal(await modeOf(join(dir, made)), 0o700, made)
    } finally {
      daemon.kill('SIGTERM')
      await exited
    }
  })

  it('backups', async () => {
    const server = await new TestRedisServer().start()
    try {
      const dir = await mkdtemp(join(tmpdir(), 'mcpauth-umask-'))
      const result = await runUnderUmask(['oauth-backup', '--output', 'backups/nightly/b.jsonl'], dir, {REDIS_URL: server.url})
      assert.equal(result.code, 0, result.stderr)
      assert.equal(await modeOf(join(dir, 'backups')), 0o700)
      assert.equal(await modeOf(join(dir, 'backups', 'nightly')), 0o700)
      assert.deepEqual(await readdir(join(dir, 'backups', 'nightly')), ['b.jsonl'])
    } finally {
      await server.stop()
    }
  })
})
