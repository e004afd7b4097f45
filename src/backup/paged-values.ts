/**
 * Values too large to read in one call: a string in GETRANGE pages, a set or
 * hash in SSCAN/HSCAN pages, a list in LRANGE pages, so that no command
 * copies more than a page while Redis serves the gateway. A value that grows
 * past `maxBytes` while being read is given up (the caller leaves the key out).
 */
import type {Bytes, RedisType} from './format.js'
import type {RedisClient} from '../redis/client.js'

/** Bytes of value a page asks for; collections aim at this by adjusting COUNT. */
export const PAGE_BYTES = 256 * 1024
const MIN_COUNT = 16
const MAX_COUNT = 1000
/** A string that changes length between pages is read again from the start, this many times at most. */
const STRING_ATTEMPTS = 3

export type PagedValue = {value: Buffer | Buffer[]} | {gone: true} | {tooLarge: true}

export async function readPaged(redis: RedisClient, key: Buffer, type: RedisType, maxBytes: number): Promise<PagedValue> {
  try {
    if (type === 'string') return await readStringInPages(redis, key, maxBytes)
    if (type === 'list') return await readListInPages(redis, key, maxBytes)
    return await readScannedInPages(redis, key, type, maxBytes)
  } catch (error) {
    // The key became another type meanwhile: as if the scan had come a moment later and missed it.
    if ((error as Error).message?.startsWith('WRONGTYPE') || (error as Error).message?.includes('WRONGTYPE')) return {gone: true}
    throw error
  }
}

async function readStringInPages(redis: RedisClient, key: Buffer, maxBytes: number): Promise<PagedValue> {
  for (let attempt = 0; attempt < STRING_ATTEMPTS; attempt++) {
    const length = await redis.strlen(key)
    if (length === 0) return {gone: true}
    if (length > maxBytes) return {tooLarge: true}
    const pages: Buffer[] = []
    let changed = false
    for (let offset = 0; offset < length && !changed; offset += PAGE_BYTES) {
      // STRLEN with each page: a value rewritten meanwhile shows as a new length.
      const [[, page], [, lengthNow]] = (await redis
        .multi()
        .getrangeBuffer(key, offset, offset + PAGE_BYTES - 1)
        .strlen(key)
        .exec()) as [[null, Buffer], [null, number]]
      pages.push(page)
      changed = lengthNow !== length
    }
    if (!changed) return {value: Buffer.concat(pages)}
  }
  return {gone: true}
}

async function readListInPages(redis: RedisClient, key: Buffer, maxBytes: number): Promise<PagedValue> {
  const members: Buffer[] = []
  let bytes = 0
  let count = MAX_COUNT
  for (;;) {
    const page = await redis.lrangeBuffer(key, members.length, members.length + count - 1)
    for (const member of page) bytes += member.length
    if (bytes > maxBytes) return {tooLarge: true}
    members.push(...page)
    if (page.length < count) break
    count = nextCount(page)
  }
  return members.length > 0 ? {value: members} : {gone: true}
}

/** SSCAN or HSCAN: an element may come twice over several calls, so one is kept per member (or field). */
async function readScannedInPages(redis: RedisClient, key: Buffer, type: 'set' | 'hash', maxBytes: number): Promise<PagedValue> {
  const step = type === 'hash' ? 2 : 1
  // Member (or field) as latin1 text, which keeps every byte apart, to its value (for a set, the member itself).
  const seen = new Map<string, Buffer>()
  let bytes = 0
  let cursor = '0'
  let count = MAX_COUNT
  do {
    const [next, elements] = type === 'hash' ? await redis.hscanBuffer(key, cursor, 'COUNT', count) : await redis.sscanBuffer(key, cursor, 'COUNT', count)
    cursor = next.toString()
    for (let index = 0; index < elements.length; index += step) {
      const member = elements[index].toString('latin1')
      const value = elements[index + step - 1]
      if (!seen.has(member)) bytes += elements[index].length + (step === 2 ? value.length : 0)
      seen.set(member, value)
    }
    if (bytes > maxBytes) return {tooLarge: true}
    count = nextCount(elements)
  } while (cursor !== '0')
  if (seen.size === 0) return {gone: true}
  if (type === 'set') return {value: [...seen.values()]}
  const flat: Buffer[] = []
  for (const [field, value] of seen) flat.push(Buffer.from(field, 'latin1'), value)
  return {value: flat}
}

/** A COUNT that makes the next page about PAGE_BYTES, from the members just read. */
function nextCount(page: Bytes[]): number {
  if (page.length === 0) return MAX_COUNT
  const average = page.reduce((sum, member) => sum + member.length, 0) / page.length
  return Math.max(MIN_COUNT, Math.min(MAX_COUNT, Math.floor(PAGE_BYTES / Math.max(1, average))))
}
