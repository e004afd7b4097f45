import {strict as assert} from 'node:assert'

import type {Redis} from 'ioredis'

import {fillAccessTokens} from './support/bulk-fill.js'
import {spawnCli} from './support/cli.js'
import {useRedis} from './support/context.js'
import {newClientId, pythonJson} from './support/gateway-fixtures.js'

/**
 * `mcpauth <list> | head -1`: when the reader goes away, the command ends at
 * once, quietly, with exit 0, instead of waiting forever for a pipe nobody reads.
 */
describe('a list whose reader goes away (| head)', function () {
  this.timeout(120_000)
  const ctx = useRedis()

  beforeEach(async () => {
    const clients = Array.from({length: 20}, newClientId)
    await fillAccessTokens(ctx.redis as Redis, {prefix: 'pipe', count: 50_000, users: 100, clients})
    const pipeline = (ctx.redis as Redis).pipeline()
    for (let i = 0; i < 3000; i++) {
      const clientId = `client_pipe${String(i).padStart(17, '0')}`
      pipeline.set(`oauth:client:${clientId}`, pythonJson({client_id: clientId, client_name: `Client ${i}`, redirect_uris: '[]', created_at: 1}))
    }
    await pipeline.exec()
  })

  for (const args of [
    ['oauth-list-tokens', '--json'],
    ['oauth-list-tokens', '--limit', '0'],
    ['oauth-list-registrations', '--json'],
    ['oauth-list-registrations', '--limit', '0'],
  ]) {
    it(`${args.join(' ')} ends within a second of the reader leaving, exit 0, nothing on stderr`, async () => {
      const {child, result} = await spawnCli(args, {env: {REDIS_URL: ctx.server.url}})
      // The reader takes a first screenful and leaves, as head does.
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
      const left = Date.now()
      child.stdout!.destroy()
      const {code, stderr} = await result
      const ended = Date.now() - left
      assert.equal(stderr, '', 'nothing printed')
      assert.equal(code, 0)
      assert.ok(ended < 1000, `ended ${ended} ms after the reader left`)
    })
  }
})
