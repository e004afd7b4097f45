import {strict as assert} from 'node:assert'

import {type RedisClient, runScript} from '../../src/redis/client.js'
import {READ_FOR_BACKUP, SCAN_FOR_BACKUP} from '../../src/redis/scripts.js'
import {scanRecordPages} from '../../src/store/redis-batches.js'
import {useRedis} from '../support/context.js'

const BUDGET = 1024 * 1024
const MEMBER_LIMIT = 256
const MEMBERS_IN_ALL = 4096

/** Value bytes and members a reply of the backup's scripts carries (a collection's items all count as members). */
function weigh(values: unknown[]): {bytes: number; members: number; largest: number} {
  let bytes = 0
  let members = 0
  let largest = 0
  for (const value of values) {
    const items = Array.isArray(value) ? (value as Buffer[]) : Buffer.isBuffer(value) ? [value] : []
    const size = items.reduce((sum, item) => sum + item.length, 0)
    bytes += size
    largest = Math.max(largest, size)
    if (Array.isArray(value)) members += items.length
  }
  return {bytes, members, largest}
}

/** Every SCAN_FOR_BACKUP call of a whole walk, each weighed. */
async function walkForBackup(redis: RedisClient): Promise<Array<ReturnType<typeof weigh> & {keys: number}>> {
  const calls = []
  let cursor = '0'
  do {
    const [next, keys, , , values] = (await runScript(redis, SCAN_FOR_BACKUP, [], [cursor, 'oauth:*', 500, BUDGET, MEMBER_LIMIT, MEMBERS_IN_ALL], {
      buffers: true,
    })) as [Buffer, Buffer[], Buffer[], number[], unknown[]]
    calls.push({...weigh(values), keys: keys.length})
    cursor = String(next)
  } while (cursor !== '0')
  return calls
}

/**
 * The scripts that read the keyspace must keep each call short whatever the
 * data: these check their byte and member budgets directly, since a walk
 * that ignored them would still give the right answer, only slowly.
 */
describe('budgets of the scripts that walk the keyspace', () => {
  const ctx = useRedis()

  it("a backup's call copies at most its byte budget, and reads no collection larger than that whole", async () => {
    const field = 'f'.repeat(64 * 1024)
    await ctx.redis.hset('oauth:meta:heavy', Object.fromEntries(Array.from({length: 200}, (_, index) => [`${index}`, field])))
    for (let index = 0; index < 12; index++) await ctx.redis.set(`oauth:client:wide-${index}`, 'x'.repeat(200 * 1024))
    const calls = await walkForBackup(ctx.redis)
    assert.equal(
      calls.reduce((sum, call) => sum + call.keys, 0),
      13,
    )
    for (const call of calls) assert.ok(call.bytes <= BUDGET, `one call copied ${call.bytes} bytes`)
    const [type, , value] = (await runScript(ctx.redis, READ_FOR_BACKUP, ['oauth:meta:heavy'], [256 * 1024, MEMBER_LIMIT, MEMBERS_IN_ALL], {
      buffers: true,
    })) as unknown[]
    assert.equal(String(type), 'hash')
    assert.equal(value, null, 'a 13 MB hash is left to be read in pages')
  })

  it('a call reads at most its members in all, however many middling sets a page holds', async () => {
    for (let start = 0; start < 600; start += 100) {
      const pipeline = ctx.redis.pipeline()
      for (let user = start; user < start + 100; user++)
        pipeline.sadd(`oauth:user_tokens:u${user}`, ...Array.from({length: 200}, (_, index) => `jti-${user}-${index}`))
      await pipeline.exec()
    }
    const calls = await walkForBackup(ctx.redis)
    assert.equal(
      calls.reduce((sum, call) => sum + call.keys, 0),
      600,
    )
    for (const call of calls) assert.ok(call.members <= MEMBERS_IN_ALL, `one call read ${call.members} members`)
    assert.ok(
      calls.some((call) => call.members > MEMBERS_IN_ALL - 200),
      'the calls read up to their budget',
    )
    const keys = Array.from({length: 100}, (_, user) => `oauth:user_tokens:u${user}`)
    const reply = (await runScript(ctx.redis, READ_FOR_BACKUP, keys, [BUDGET, MEMBER_LIMIT, MEMBERS_IN_ALL], {buffers: true})) as unknown[]
    const values = reply.filter((_, index) => index % 3 === 2)
    assert.ok(weigh(values).members <= MEMBERS_IN_ALL, `READ_FOR_BACKUP read ${weigh(values).members} members in one call`)
    assert.equal(values.length, Math.floor(MEMBERS_IN_ALL / 200), 'it stops at the set that does not fit, for the next call')
  })

  it('SCAN_RECORDS hands over a PTTL of sixteen digits exactly', async () => {
    // Formatted as text by Lua, 1234567890123456 would come out as 1.2345678901235e+15: 44 ms later than it is.
    await ctx.redis.set('oauth:state:ages', '{}', 'PX', 1_234_567_890_123_456)
    const before = await ctx.redis.pttl('oauth:state:ages')
    const pages = []
    for await (const page of scanRecordPages(ctx.redis, 'oauth:*', {count: 100, countOrphans: false})) pages.push(...page.keys)
    const after = await ctx.redis.pttl('oauth:state:ages')
    const scanned = pages.find((key) => key.key === 'oauth:state:ages')!
    assert.ok(scanned.pttl <= before && scanned.pttl >= after, `PTTL ${scanned.pttl}, between ${after} and ${before}`)
  })
})
