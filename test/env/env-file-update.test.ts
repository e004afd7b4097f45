import {strict as assert} from 'node:assert'
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtemp, readFile, readdir, stat, utimes, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {parseEnvText, updateEnvFile} from '../../src/env/env-file.js'

const writerScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'env-writer.js')

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mcpauth-envfile-'))
}

function startWriter(path: string, key: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [writerScript, path, key], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'ignore']})
}

/** Resolves once the writer reports a finished update: it is running and mid-way through its loop. Fails if it ends first. */
function firstUpdate(writer: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    writer.stdout!.once('data', () => resolve())
    writer.once('exit', (code) => reject(new Error(`the writer ended (exit ${code}) before it finished one update`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode === null ? child.on('exit', (code) => resolve(code)) : resolve(child.exitCode)))
}

describe('.env updates', () => {
  it('changes only the given keys and keeps comments, blank lines, order, quoting and export', async () => {
    const path = join(await tempDir(), '.env')
    const original = [
      '# Gateway',
      '',
      'export BASE_DOMAIN=example.com',
      "GATEWAY_JWT_SECRET='old' # rotate me",
      'REDIS_URL="redis://redis:6379/0"',
      'UNTOUCHED=1',
      '',
    ].join('\n')
    await writeFile(path, original)
    const result = await updateEnvFile(path, () => ({GATEWAY_JWT_SECRET: 'new-secret', BASE_DOMAIN: 'example.org', NEW_KEY: 'has space'}))
    assert.deepEqual(result.changed.sort(), ['BASE_DOMAIN', 'GATEWAY_JWT_SECRET', 'NEW_KEY'])
    assert.equal(
      await readFile(path, 'utf8'),
      [
        '# Gateway',
        '',
        'export BASE_DOMAIN=example.org',
        "GATEWAY_JWT_SECRET='new-secret' # rotate me",
        'REDIS_URL="redis://redis:6379/0"',
        'UNTOUCHED=1',
        "NEW_KEY='has space'",
        '',
      ].join('\n'),
    )
  })

  it('round-trips values that need quoting or escaping', async () => {
    const path = join(await tempDir(), '.env')
    const tricky = {A: 'it\'s "quoted" $HOME #1', B: 'line1\nline2', C: 'back\\slash', D: '', E: 'plain/base64+value=='}
    await updateEnvFile(path, () => tricky)
    const {values} = parseEnvText(await readFile(path, 'utf8'))
    assert.deepEqual(Object.fromEntries(values), tricky)
  })

  it('keeps CRLF line endings, a BOM and a missing final newline', async () => {
    const path = join(await tempDir(), '.env')
    await writeFile(path, '\uFEFFA=1\r\nB=2')
    await updateEnvFile(path, () => ({A: '3'}))
    assert.equal(await readFile(path, 'utf8'), '\uFEFFA=3\r\nB=2')
  })

  it('removes a key given null and rewrites only the last of duplicate keys', async () => {
    const path = join(await tempDir(), '.env')
    await writeFile(path, 'A=1\nB=2\nA=3\n')
    await updateEnvFile(path, () => ({A: '4', B: null}))
    assert.equal(await readFile(path, 'utf8'), 'A=1\nA=4\n')
  })

  it('writes mode 0600, creates a missing file from a seed, and leaves no temp files', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, '.env.example'), '# seeded\nBASE_DOMAIN=example.com\nGATEWAY_JWT_SECRET=your_jwt_secret_here\n')
    const result = await updateEnvFile(join(dir, '.env'), () => ({GATEWAY_JWT_SECRET: 'abc'}), {seedFrom: join(dir, '.env.example')})
    assert.equal(result.created, true)
    assert.equal(await readFile(join(dir, '.env'), 'utf8'), '# seeded\nBASE_DOMAIN=example.com\nGATEWAY_JWT_SECRET=abc\n')
    assert.equal((await stat(join(dir, '.env'))).mode & 0o777, 0o600)
    assert.deepEqual((await readdir(dir)).sort(), ['.env', '.env.example'])
  })

  it('does not rewrite the file when nothing changes', async () => {
    const path = join(await tempDir(), '.env')
    await writeFile(path, 'A="1"\n', {mode: 0o644})
    const result = await updateEnvFile(path, () => ({A: '1'}))
    assert.deepEqual(result.changed, [])
    assert.equal((await stat(path)).mode & 0o777, 0o644)
  })

  it('keeps every update when ten processes change different keys at once', async () => {
    const path = join(await tempDir(), '.env')
    await writeFile(path, '# shared\n')
    const writers = Array.from({length: 10}, (_, i) => startWriter(path, `KEY_${i}`, {VALUE: `value-${i}`}))
    assert.deepEqual(await Promise.all(writers.map(exited)), Array(10).fill(0))
    const {values} = parseEnvText(await readFile(path, 'utf8'))
    for (let i = 0; i < 10; i++) assert.equal(values.get(`KEY_${i}`), `value-${i}`)
  })

  it('leaves the old or the new file, never a mix, when a writer is killed mid-write', async function () {
    this.timeout(60_000)
    const dir = await tempDir()
    const path = join(dir, '.env')
    const padding = 'x'.repeat(200_000)
    await writeFile(path, `# keep\nBIG=${padding}-1\n`)
    const versionsSeen = new Set<string>()
    for (let round = 0; round < 10; round++) {
      const writer = startWriter(path, 'BIG', {PAD_LENGTH: String(padding.length), VALUE: '-', REPEAT: '1000'})
      // Strike on evidence, not on a clock: after its first update, somewhere in the next ones.
      await firstUpdate(writer)
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100))
      assert.equal(writer.exitCode, null, `round ${round}: the writer finished all its updates before the kill`)
      writer.kill('SIGKILL')
      await exited(writer)
      // The killed writer's lock would go stale after 5 s; age it instead of waiting.
      const old = new Date(Date.now() - 60_000)
      await utimes(`${path}.lock`, old, old).catch(() => {})
      const text = await readFile(path, 'utf8')
      const prefix = `# keep\nBIG=${padding}-`
      const whole = text.startsWith(prefix) && /^\d+\n$/.test(text.slice(prefix.length))
      assert.ok(whole, `round ${round}: the file is neither the old nor a new version (${text.length} chars)`)
      versionsSeen.add(text.slice(prefix.length))
    }
    assert.ok(versionsSeen.size > 1, `every writer was killed at the same point (${[...versionsSeen]})`)
    const leftovers = (await readdir(dir)).filter((name) => name.endsWith('.tmp'))
    assert.ok(leftovers.length <= 10, 'temp files are only left by killed writers')
  })
})
