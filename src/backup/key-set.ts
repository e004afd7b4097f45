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

import {murmur32} from '../hash.js'

const MAX_LOAD = 0.85
/**
 * The table is split by fingerprint into this many parts that grow one at a
 * time, so a growth holds one part twice, never the whole table (a single
 * table of 4M keys held 30 MB and 45 MB at once while it grew).
 */
const PARTS = 64
const INITIAL_PART_CAPACITY = 1 << 10
const encoder = new TextEncoder()

/** One part: open addressing with linear probing over two parallel arrays. */
interface Part {
  high: Uint32Array
  low: Uint32Array
  count: number
}

export class KeyFingerprints {
  private readonly parts: Part[]
  private count = 0
  private readonly seedHigh = randomInt(2 ** 32 - 1)
  private readonly seedLow = randomInt(2 ** 32 - 1)
  private scratch = new Uint8Array(256)

  /** `expected`: how many keys are likely (DBSIZE), so the table rarely grows. */
  constructor(expected = 0) {
    const capacity = Math.max(INITIAL_PART_CAPACITY, Math.ceil(expected / PARTS / MAX_LOAD))
    this.parts = Array.from({length: PARTS}, () => ({high: new Uint32Array(capacity), low: new Uint32Array(capacity), count: 0}))
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
    const part = this.parts[low % PARTS]
    if (!insert(part, high, low)) return false
    this.count++
    if (part.count > part.low.length * MAX_LOAD) grow(part)
    return true
  }

  /** UTF-8 bytes of a text key, in a reused buffer: the same bytes as a Buffer key would have. */
  private encode(key: string): Uint8Array {
    if (this.scratch.length < key.length * 3) this.scratch = new Uint8Array(key.length * 3)
    const {written} = encoder.encodeInto(key, this.scratch)
    return this.scratch.subarray(0, written)
  }
}

function insert(part: Part, high: number, low: number): boolean {
  const capacity = part.low.length
  let slot = Math.floor((high / 2 ** 32) * capacity)
  while (part.low[slot] !== 0) {
    if (part.low[slot] === low && part.high[slot] === high) return false
    slot = slot + 1 === capacity ? 0 : slot + 1
  }
  part.high[slot] = high
  part.low[slot] = low
  part.count++
  return true
}

function grow(part: Part): void {
  const [high, low] = [part.high, part.low]
  const capacity = Math.ceil(low.length * 1.5)
  part.high = new Uint32Array(capacity)
  part.low = new Uint32Array(capacity)
  part.count = 0
  for (let slot = 0; slot < low.length; slot++) if (low[slot] !== 0) insert(part, high[slot], low[slot])
}
