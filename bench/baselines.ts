import {createReadStream, createWriteStream} from 'node:fs'
import {createInterface} from 'node:readline'

import type {Redis} from 'ioredis'

const COUNT = 1000

/** The bare loops each command is compared with: SCAN plus pipelined reads, nothing else. */
export const baselines = {
  /** The bare loop: SCAN, GET and PTTL of each key pipelined, and JSON.parse of each value (a set answers GET with an error, skipped). */
  async scanAndRead(redis: Redis, match: string): Promise<number> {
    let parsed = 0
    for await (const keys of redis.scanStream({match, count: COUNT}) as AsyncIterable<string[]>) {
      const pipeline = redis.pipeline()
      for (const key of keys) pipeline.get(key).pttl(key)
      const replies = (await pipeline.exec()) ?? []
      for (let i = 0; i < replies.length; i += 2) {
        const value = replies[i][1]
        if (typeof value === 'string' && JSON.parse(value) !== undefined) parsed++
      }
    }
    return parsed
  },

  /** Over the same keys as the purge (all of oauth:*): GET and PTTL each, UNLINK the expired access tokens. */
  async purgeExpired(redis: Redis): Promise<number> {
    const now = Date.now() / 1000
    let removed = 0
    for await (const keys of redis.scanStream({match: 'oauth:*', count: COUNT}) as AsyncIterable<string[]>) {
      const pipeline = redis.pipeline()
      for (const key of keys) pipeline.get(key).pttl(key)
      const replies = (await pipeline.exec()) ?? []
      const expired = keys.filter((key, i) => {
        const value = replies[i * 2][1]
        return key.startsWith('oauth:token:') && typeof value === 'string' && JSON.parse(value).expires_at <= now
      })
      if (expired.length > 0) await redis.pipeline(expired.map((key) => ['unlink', key])).exec()
      removed += expired.length
    }
    return removed
  },

  /**
   * One round trip per SCAN batch, as a hand-written dump would do it: the
   * value (SMEMBERS for the user index sets, GET for the rest) and PTTL of
   * every key pipelined together, one JSON line per key.
   */
  async dumpToFile(redis: Redis, path: string): Promise<void> {
    const out = createWriteStream(path)
    for await (const keys of redis.scanStream({match: 'oauth:*', count: COUNT}) as AsyncIterable<string[]>) {
      const pipeline = redis.pipeline()
      for (const key of keys) {
        if (key.startsWith('oauth:user_tokens:')) pipeline.smembers(key)
        else pipeline.get(key)
        pipeline.pttl(key)
      }
      const replies = (await pipeline.exec()) ?? []
      const lines = keys.map((key, i) => {
        const type = key.startsWith('oauth:user_tokens:') ? 'set' : 'string'
        return JSON.stringify({key, type, value: replies[i * 2][1], pttl: replies[i * 2 + 1][1]})
      })
      if (!out.write(`${lines.join('\n')}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
    }
    await new Promise<void>((resolve) => out.end(() => resolve()))
  },

  async restoreFromFile(redis: Redis, path: string): Promise<void> {
    let pipeline = redis.pipeline()
    let pending = 0
    for await (const line of createInterface({input: createReadStream(path)})) {
      const {key, type, value, pttl} = JSON.parse(line)
      if (type === 'set') pipeline.sadd(key, ...(value as string[]))
      else if (pttl > 0) pipeline.set(key, value, 'PX', pttl)
      else pipeline.set(key, value)
      if (++pending === COUNT) {
        await pipeline.exec()
        pipeline = redis.pipeline()
        pending = 0
      }
    }
    await pipeline.exec()
  },
}
