import {strict as assert} from 'node:assert'
import {execFile} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {repoRoot} from './support/cli.js'
import {gatewayClaims, handSignedHs256} from './support/jwt-fixtures.js'

const run = promisify(execFile)
/** `just` from the rust-just dev dependency: the same on every machine and in CI. */
const just = join(repoRoot, 'node_modules', '.bin', 'just')

describe('the justfile', () => {
  it("runs from the gateway's directory: --justfile elsewhere reads the .env where just was called", async () => {
    const gatewayDir = await mkdtemp(join(tmpdir(), 'mcpauth-justfile-'))
    await writeFile(
      join(gatewayDir, '.env'),
      `MCP_CLIENT_ACCESS_TOKEN=${handSignedHs256(gatewayClaims({exp: Math.floor(Date.now() / 1000) + 7200}), 'secret')}\n`,
    )
    const {stdout} = await run(just, ['--justfile', join(repoRoot, 'justfile'), 'check-token-expiry', '--json'], {cwd: gatewayDir})
    const report = JSON.parse(stdout)
    assert.deepEqual(
      report.tokens.map((token: {name: string}) => token.name),
      ['MCP_CLIENT_ACCESS_TOKEN'],
    )
  })

  it('has a recipe for every command', async () => {
    const {stdout} = await run(just, ['--justfile', join(repoRoot, 'justfile'), '--summary'])
    const {stdout: help} = await run(process.execPath, ['--', join(repoRoot, 'bin', 'run.js'), '--help'])
    const recipes = new Set(stdout.trim().split(/\s+/))
    for (const id of help.match(/^ {2}([a-z][a-z0-9-]+) /gm)!.map((line) => line.trim())) {
      if (id === 'autocomplete' || id === 'help') continue
      assert.ok(recipes.has(id), `no recipe for ${id}`)
    }
  })
})
