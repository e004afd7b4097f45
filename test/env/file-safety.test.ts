import {strict as assert} from 'node:assert'
import {lchown, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rmdir, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'

import {parseEnvText} from '../../src/env/env-file.js'
import {type CliResult, runCli, startCli} from '../support/cli.js'
import {tokenLines} from '../support/mcp-workspace.js'

/** Runs mcpauth, killing it after `ms`: a daemon that should have been refused must not hang the suite. */
async function runBounded(args: string[], options: {cwd: string}, ms = 15_000): Promise<CliResult> {
  const running = await startCli(args, options)
  const timer = setTimeout(() => running.kill('SIGKILL'), ms)
  try {
    return await running.done
  } finally {
    clearTimeout(timer)
  }
}

const VICTIM_TEXT = 'precious: not a PID, not a log, not a config\n'
const DAEMON_ARGS = ['refresh-tokens', '--watch', '--interval', '1']

/** A directory with real/gw.env and `.env -> real/gw.env`, the two spellings of one file. */
async function linkedEnv(): Promise<{dir: string; real: string; link: string}> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpauth-links-'))
  await mkdir(join(dir, 'real'))
  const real = join(dir, 'real', 'gw.env')
  await writeFile(real, '# the gateway\nBASE_DOMAIN=example.com\n', {mode: 0o600})
  const link = join(dir, '.env')
  await symlink('real/gw.env', link)
  return {dir, real, link}
}

/** A file someone wants overwritten, with a mode that must not change either. */
async function victimFile(dir: string, text = VICTIM_TEXT): Promise<string> {
  const victim = join(dir, 'victim')
  await writeFile(victim, text, {mode: 0o640})
  return victim
}

async function assertVictimUntouched(victim: string, text = VICTIM_TEXT): Promise<void> {
  assert.equal(await readFile(victim, 'utf8'), text, 'the link target was written')
  assert.equal((await stat(victim)).mode & 0o777, 0o640, "the link target's mode changed")
}

describe('one file, however it is spelled', function () {
  this.timeout(60_000)

  it('a write through .env -> real/gw.env waits for the lock taken through the real path', async () => {
    const {dir, real} = await linkedEnv()
    // The lock a process holds while it rewrites real/gw.env (fresh, so not stale for 5 s).
    await mkdir(`${real}.lock`)
    const writer = await startCli(['generate-jwt-secret', '--force'], {cwd: dir})
    await delay(2000)
    assert.equal(parseEnvText(await readFile(real, 'utf8')).values.get('GATEWAY_JWT_SECRET'), undefined, 'written while the real path was locked')
    await rmdir(`${real}.lock`)
    const result = await writer.done
    assert.equal(result.code, 0, result.stderr)
    assert.match(parseEnvText(await readFile(real, 'utf8')).values.get('GATEWAY_JWT_SECRET')!, /^[\w-]{64}$/)
    assert.ok((await lstat(join(dir, '.env'))).isSymbolicLink(), 'the link is still a link')
    assert.deepEqual((await readdir(dir)).sort(), ['.env', 'real'], 'no lock of its own beside the link')
  })

  it('one daemon per .env: a second one through a link to the same file is refused', async () => {
    const {dir, real, link} = await linkedEnv()
    const first = await startCli([...DAEMON_ARGS, '--env-file', real], {cwd: dir})
    try {
      await first.waitForStderr(/INFO {2}started/)
      const second = await runBounded([...DAEMON_ARGS, '--env-file', link], {cwd: dir})
      assert.equal(second.code, 4, second.stderr)
      assert.match(
        second.stderr,
        new RegExp(`^Error: Another refresh daemon \\(PID ${first.pid}\\) is already running for this \\.env: ${real}\\.refresh\\.pid is held\\.`),
      )
    } finally {
      first.kill('SIGTERM')
      assert.equal((await first.done).code, 0)
    }
  })
})

describe('files mcpauth creates are never written through a planted link', function () {
  this.timeout(60_000)

  it('a PID file planted as a link to a victim: the victim keeps its bytes and mode, the link is replaced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-planted-'))
    await writeFile(join(dir, '.env'), 'A=1\n', {mode: 0o600})
    const victim = await victimFile(dir)
    await symlink(victim, join(dir, '.env.refresh.pid'))
    const daemon = await startCli(DAEMON_ARGS, {cwd: dir})
    await daemon.waitForStderr(/INFO {2}started/)
    const pidFile = join(dir, '.env.refresh.pid')
    assert.ok((await lstat(pidFile)).isFile(), 'the PID file is a file of its own')
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(daemon.pid))
    daemon.kill('SIGTERM')
    assert.equal((await daemon.done).code, 0)
    await assertVictimUntouched(victim)
  })

  it('a log file planted as a link: refused (exit 2), the victim untouched, no daemon started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-planted-'))
    await writeFile(join(dir, '.env'), 'A=1\n', {mode: 0o600})
    const victim = await victimFile(dir)
    await symlink(victim, join(dir, 'refresh.log'))
    const result = await runBounded([...DAEMON_ARGS, '--log-file', join(dir, 'refresh.log')], {cwd: dir})
    assert.equal(result.code, 2, result.stderr)
    assert.match(result.stderr, /^Error: The log file .*refresh\.log is a symbolic link/)
    await assertVictimUntouched(victim)
    await assert.rejects(lstat(join(dir, '.env.refresh.pid')), {code: 'ENOENT'})
  })

  it('a lock planted as a link: refused at once (exit 4), nothing written through it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-planted-'))
    await writeFile(join(dir, '.env'), 'A=1\n', {mode: 0o600})
    const victim = await victimFile(dir)
    await symlink(victim, join(dir, '.env.lock'))
    const started = Date.now()
    const result = await runCli(['generate-jwt-secret'], {cwd: dir})
    assert.equal(result.code, 4, result.stderr)
    assert.match(result.stderr, /^Error: .*\.env\.lock is not a lock directory/)
    assert.ok(Date.now() - started < 10_000, 'no 30 s wait for a lock nobody holds')
    await assertVictimUntouched(victim)
    assert.equal(await readFile(join(dir, '.env'), 'utf8'), 'A=1\n')
  })

  it("a client config planted as another user's link in a shared directory: refused (exit 4), the victim untouched", async function () {
    // Only root can give a link to another user; CI runs the suite as root, so there it always runs.
    if (process.getuid?.() !== 0) this.skip()
    // A sticky, world-writable directory like /tmp, where another user (uid 65534) planted the link.
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-planted-'))
    const shared = join(dir, 'shared')
    await mkdir(shared, {mode: 0o1777})
    // Valid JSON (another user's own config), so only the write can stop it.
    const victimText = '{"mcpServers": {}}\n'
    const victim = await victimFile(dir, victimText)
    const config = join(shared, 'mcp.json')
    await symlink(victim, config)
    await lchown(config, 65_534, 65_534)
    await writeFile(join(dir, '.env'), `${tokenLines('planted-link-token-0123456789abcdef').join('\n')}\n`, {mode: 0o600})
    const result = await runCli(['mcp-config', '--client', 'cursor', '--output', config, '--server', 'fetch=https://mcp.example.com/mcp'], {
      cwd: dir,
      env: {HOME: dir},
    })
    assert.equal(result.code, 4, result.stderr)
    assert.match(result.stderr, /^Error: Refusing to write .*mcp\.json: .* is a symbolic link owned by another user \(uid 65534\)/)
    await assertVictimUntouched(victim, victimText)
    assert.equal(await readlink(config), victim)
  })

  it("a link of one's own is followed: a client config kept elsewhere (dotfiles) is updated in place", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcpauth-own-link-'))
    await mkdir(join(dir, 'dotfiles'))
    await writeFile(join(dir, 'dotfiles', 'mcp.json'), '{"mcpServers": {"other": {"url": "https://other.example.com/mcp"}}}\n')
    await mkdir(join(dir, '.cursor'))
    await symlink(join(dir, 'dotfiles', 'mcp.json'), join(dir, '.cursor', 'mcp.json'))
    await writeFile(join(dir, '.env'), `${tokenLines('own-link-token-0123456789abcdef').join('\n')}\n`, {mode: 0o600})
    const result = await runCli(['mcp-config', '--client', 'cursor', '--server', 'fetch=https://mcp.example.com/mcp'], {cwd: dir, env: {HOME: dir}})
    assert.equal(result.code, 0, result.stderr)
    assert.ok((await lstat(join(dir, '.cursor', 'mcp.json'))).isSymbolicLink())
    const written = JSON.parse(await readFile(join(dir, 'dotfiles', 'mcp.json'), 'utf8'))
    assert.deepEqual(Object.keys(written.mcpServers).sort(), ['fetch', 'other'])
  })
})
