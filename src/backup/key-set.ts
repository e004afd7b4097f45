/**
 * Which keys a backup has already seen, in about 10 bytes per key whatever
 * their length: a set of 64-bit fingerprints (two seeded 32-bit hashes) in
 * typed arrays, open addressing with linear probing. A Set of the keys
 * themselves would cost ~100 bytes per key, too much at millions.
 *
 * A fingerprint match is not proof that the key is the same: callers that
 * must be exact (the reader) confirm the few matches against the keys
 * themselves. The seeds are random per run, so no crafted key set collides on purpose.
 */
import {randomInt} from 'node:crypto'

const MAX_LOAD = 0.85
const INITIAL_CAPACITY = 1 << 16
const encoder = new TextEncoder()

export class KeyFingerprints {
  private high: Uint32Array
  private low: Uint32Array
  private count = 0
  private readonly seedHigh = randomInt(2 ** 32 - 1)
  private readonly seedLow = randomInt(2 ** 32 - 1)
  private scratch = new Uint8Array(256)

  /** `expected`: how many keys are likely (DBSIZE), so the table rarely grows. */
  constructor(expected = 0) {
    const capacity = Math.max(INITIAL_CAPACITY, Math.ceil(expected / MAX_LOAD))
    this.high = new Uint32Array(capacity)
    this.low = new Uint32Array(capacity)
  }

  get size(): number {
    return this.count
  }

  /** Adds the key's fingerprint; false when the fingerprint was there already (the key, or a rare look-alike). */
  add(key: Buffer | string): boolean {
    const bytes = typeof key === 'string' ? this.encode(key) : key
    // 0/0 marks an empty slot, so a fingerprint never has a zero low half.
    const high = murmur32(bytes, this.seedHigh)
    const low = murmur32(bytes, this.seedLow) || 1
    return this.insert(high, low)
  }

  private insert(high: number, low: number): boolean {
    const capacity = this.low.length
    let slot = Math.floor((high / 2 ** 32) * capacity)
    while (this.low[slot] !== 0) {
      if (this.low[slot] === low && this.high[slot] === high) return false
      slot = slot + 1 === capacity ? 0 : slot + 1
    }
    this.high[slot] = high
    this.low[slot] = low
    if (++this.count > capacity * MAX_LOAD) this.grow()
    return true
  }

  private grow(): void {
    const [high, low] = [this.high, this.low]
    const capacity = Math.ceil(low.length * 1.5)
    this.high = new Uint32Array(capacity)
    this.low = new Uint32Array(capacity)
    this.count = 0
    for (let slot = 0; slot < low.length; slot++) if (low[slot] !== 0) this.insert(high[slot], low[slot])
  }

  /** UTF-8 bytes of a text key, in a reused buffer: the same bytes as a Buffer key would have. */
  private encode(key: string): Uint8Array {
    if (this.scratch.length < key.length * 3) this.scratch = new Uint8Array(key.length * 3)
    const {written} = encoder.encodeInto(key, this.scratch)
    return this.scratch.subarray(0, written)
  }
}

/** MurmurHash3 (x86, 32-bit): fast and well mixed for short keys. */
function murmur32(bytes: Uint8Array, seed: number): number {
  let hash = seed >>> 0
  const length = bytes.length
  const whole = length & ~3
  for (let index = 0; index < whole; index += 4) {
    let block = bytes[index] | (bytes[index + 1] << 8) | (bytes[index + 2] << 16) | (bytes[index + 3] << 24)
    block = Math.imul(block, 0xcc9e2d51)
    block = (block << 15) | (block >>> 17)
    hash ^= Math.imul(block, 0x1b873593)
    hash = (hash << 13) | (hash >>> 19)
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0
  }
  let tail = 0
  const rest = length & 3
  if (rest === 3) tail ^= bytes[whole + 2] << 16
  if (rest >= 2) tail ^= bytes[whole + 1] << 8
  if (rest >= 1) {
    tail ^= bytes[whole]
    tail = Math.imul(tail, 0xcc9e2d51)
    tail = (tail << 15) | (tail >>> 17)
    hash ^= Math.imul(tail, 0x1b873593)
  }
  hash ^= length
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}
