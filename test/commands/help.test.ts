import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {repoRoot, runCli} from '../support/cli.js'

/** Examples a reader of the README will look for in --help. */
const EXPECTED_EXAMPLES: Record<string, string> = {
  'check-token-expiry': 'mcpauth check-token-expiry --within 2h',
  'validate-tokens': 'mcpauth validate-tokens --stdin --no-redis',
  'refresh-tokens': 'mcpauth refresh-tokens --buffer 2h',
  'generate-github-token': 'mcpauth generate-github-token --browser',
  'oauth-purge-expired': 'mcpauth oauth-purge-expired --dry-run',
  'mcp-config': 'mcpauth mcp-config --client claude-code --helper',
  'mcp-headers': 'mcpauth mcp-headers --env-file /srv/gateway/.env',
}

describe('--help of every command', () => {
  it('shows real examples that start with the command itself', async function () {
    // One run per command: on a busy machine that is more than the default 30 s.
    this.timeout(180_000)
    const manifest = JSON.parse(await readFile(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    for (const id of Object.keys(manifest.commands)) {
      const result = await runCli([id, '--help'])
      assert.equal(result.code, 0, result.stderr)
      const examples = result.stdout.split('EXAMPLES')[1] ?? ''
      assert.ok(examples.includes(`$ mcpauth ${id}`), `${id} --help has no example`)
      if (EXPECTED_EXAMPLES[id]) assert.ok(examples.includes(EXPECTED_EXAMPLES[id]), `${id} --help lacks "${EXPECTED_EXAMPLES[id]}"`)
    }
  })

  it('mcp-client-token shows both the sign-in and the CI mint', async () => {
    const result = await runCli(['mcp-client-token', '--help'])
    assert.ok(result.stdout.includes('mcpauth mcp-client-token --device'))
    assert.ok(result.stdout.includes('mcpauth mcp-client-token --mint --username ci-bot'))
  })
})
