import {strict as assert} from 'node:assert'

import {runCli} from './support/cli.js'

describe('help of the OAuth commands', () => {
  for (const [command, example] of [
    ['refresh-tokens', 'mcpauth refresh-tokens --buffer 2h'],
    ['generate-github-token', 'mcpauth generate-github-token --browser'],
    ['mcp-client-token', 'mcpauth mcp-client-token --device'],
  ]) {
    it(`${command} --help shows real examples`, async () => {
      const result = await runCli([command, '--help'])
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /EXAMPLES/)
      assert.ok(result.stdout.includes(example), `${command} --help lacks "${example}"`)
    })
  }
})
