import {strict as assert} from 'node:assert'

import type {Redis} from 'ioredis'

import {type BulkTokens, bulkId, bulkJti, bulkUser, countExisting, countIndexed, fillAccessTokens, isBulkExpired} from '../support/bulk-fill.js'
import {type CliResult, parseJson} from '../support/cli.js'
import {useRedis} from '../support/context.js'
import type {GatewayFixtures} from '../support/gateway-fixtures.js'

const USERS = 1000
const CLIENTS = Array.from({length: 10}, (_, index) => bulkId('client_conc', index, 29))

interface WrittenToken {
  jti: string
  username: string
}

/**
 * The gateway at work, in this process: it issues tokens one at a time as
 * its token endpoint does (the record with its TTL, then the user index
 * entry), some already past their expiry, and revokes some of the valid ones
 * it issued (record deleted, index entry removed), until told to stop.
 */
class BusyGateway {
  readonly valid: WrittenToken[] = []
  readonly revoked = new Set<string>()
  expiredWritten = 0
  private running?: Promise<void>
  private stopping = false

  constructor(
    private readonly redis: Redis,
    private readonly gateway: GatewayFixtures,
  ) {}

  start(): void {
    this.running = this.loop()
  }

  async stop(): Promise<void> {
    this.stopping = true
    await this.running
  }

  private async loop(): Promise<void> {
    for (let round = 0; !this.stopping; round++) {
      const username = bulkUser(round * 7, USERS)
      const clientId = CLIENTS[round % CLIENTS.length]
      const {jti} = await this.gateway.accessToken({username, clientId, expiresIn: 3600 + round})
      this.valid.push({jti, username})
      if (round % 3 === 0) {
        await this.gateway.accessToken({username, clientId, expiresIn: -60, ttl: 3600})
        this.expiredWritten++
      }
      if (round % 5 === 4) await this.revoke(this.valid[Math.floor(Math.random() * this.valid.length)])
    }
  }

  private async revoke({jti, username}: WrittenToken): Promise<void> {
    if (this.revoked.has(jti)) return
    this.revoked.add(jti)
    await this.redis.del(`oauth:token:${jti}`)
    await this.redis.srem(`oauth:user_tokens:${username}`, jti)
  }
}

describe('oauth-purge-expired while the gateway keeps issuing and revoking tokens', function () {
  this.timeout(180_000)
  const ctx = useRedis()

  it('deletes no valid token written before or during the purge, and every expired one present at the start', async () => {
    const redis = ctx.redis as Redis
    const atStart: BulkTokens = {prefix: 'g', count: 100_000, users: USERS, clients: CLIENTS, expiredEvery: 2}
    const expired = (index: number) => isBulkExpired(index, 2)
    const valid = (index: number) => !expired(index)
    await fillAccessTokens(redis, atStart)

    const gateway = new BusyGateway(redis, ctx.gateway)
    gateway.start()
    let result: CliResult
    try {
      result = await ctx.cli(['oauth-purge-expired', '--yes', '--json'])
    } finally {
      await gateway.stop()
    }
    assert.equal(result.code, 0, result.stderr)
    assert.ok(gateway.valid.length > 50, `the gateway issued only ${gateway.valid.length} tokens during the purge`)
    assert.ok(parseJson(result).deleted.access_tokens >= atStart.count / 2)

    const tokenKey = (index: number) => `oauth:token:${bulkJti('g', index)}`
    assert.equal(await countExisting(redis, atStart.count, tokenKey, expired), 0, 'an expired token present at the start is left')
    assert.equal(await countExisting(redis, atStart.count, tokenKey, valid), atStart.count / 2, 'a valid token present at the start was deleted')
    assert.equal(await countIndexed(redis, atStart, valid), atStart.count / 2, 'a valid token present at the start lost its index entry')

    const live = gateway.valid.filter(({jti}) => !gateway.revoked.has(jti))
    const checks = redis.pipeline()
    for (const {jti, username} of live) checks.exists(`oauth:token:${jti}`).sismember(`oauth:user_tokens:${username}`, jti)
    const replies = ((await checks.exec()) ?? []).map(([, reply]) => Number(reply))
    live.forEach(({jti}, index) => {
      assert.equal(replies[index * 2], 1, `valid token ${jti}, issued during the purge, was deleted`)
      assert.equal(replies[index * 2 + 1], 1, `valid token ${jti}, issued during the purge, lost its index entry`)
    })
    for (const jti of gateway.revoked) assert.equal(await redis.exists(`oauth:token:${jti}`), 0, 'a revoked token came back')
  })
})
