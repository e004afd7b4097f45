import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {repoRoot, runCli} from '../support/cli.js'

/** Scripts read these keys; a change is a breaking change and must be made here on purpose. */
const ERROR_KEYS = ['code', 'exit_code', 'hint', 'message']

describe('the --json error of every command', function () {
  this.timeout(120_000)

  it('is one object on stdout, {error: {code, message, hint, exit_code}}, and one plain line on stderr', async () => {
    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
    const ids = Object.keys(manifest.commands).filter((id) => 'json' in manifest.commands[id].flags)
    assert.ok(ids.length >= 20, `${ids.length} commands have --json`)
    for (const id of ids) {
      // A flag no command knows: every command fails the same way, before doing anything.
      const result = await runCli([id, '--json', '--no-such-flag'])
      assert.equal(result.code, 2, `${id}: ${result.stdout}${result.stderr}`)
      const body = JSON.parse(result.stdout)
      assert.deepEqual(Object.keys(body), ['error'], id)
      assert.deepEqual(Object.keys(body.error).sort(), ERROR_KEYS, id)
      assert.equal(body.error.exit_code, 2, id)
      assert.equal(typeof body.error.message, 'string', id)
      const lines = result.stderr.split('\n').filter((line) => line !== '')
      assert.equal(lines.length, 1, `${id} stderr: ${result.stderr}`)
      assert.match(lines[0], /^Error: Nonexistent flag/, id)
    }
  })

  it('keeps the exit code of an expected failure (exit 4, .env missing)', async () => {
    const result = await runCli(['oauth-stats', '--json', '--env-file', '/nonexistent/.env'])
    assert.equal(result.code, 4)
    const body = JSON.parse(result.stdout)
    assert.deepEqual(body, {error: {code: 'env_missing', message: 'Cannot read /nonexistent/.env: no such file.', hint: null, exit_code: 4}})
    assert.equal(result.stderr, 'Error: Cannot read /nonexistent/.env: no such file.\n')
  })
})
