import {strict as assert} from 'node:assert'

import {runCli} from './support/cli.js'

describe('help of the JWT commands', () => {
  for (const [command, example] of [
    ['check-token-expiry', 'mcpauth check-token-expiry --within 2h'],
    ['validate-tokens', 'mcpauth validate-tokens --stdin --no-redis'],
    ['mcp-client-token', 'mcpauth mcp-client-token --mint --username ci-bot'],
  ]) {
    it(`${command} --help shows real examples`, async () => {
      const result = await runCli([command, '--help'])
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /EXAMPLES/)
      assert.ok(result.stdout.includes(example), `${command} --help lacks "${example}"`)
    })
  }
})
