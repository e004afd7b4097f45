import {randomBytes} from 'node:crypto'

import {murmur32} from '../hash.js'

/** Words per slot: hash, offset of the name in the arena, its length in bytes, its count (0: a free slot). */
const SLOT_WORDS = 4
const FIRST_SLOTS = 1024
const FIRST_ARENA_BYTES = 64 * 1024

/**
 * Exact counts per name for a stream that names hundreds of thousands of
 * users or clients, in a fraction of a Map's memory: each distinct name is
 * kept once as UTF-8 bytes in one growing buffer, and its count in an
 * open-addressing table of 16 bytes a slot, at most three quarters full
 * (about 45 bytes a short name in all, where a Map of short strings takes
 * over 100). The hash is seeded per run, so names chosen to collide cannot
 * slow it down.
 */
export class NameCounts {
  private arena = Buffer.allocUnsafe(FIRST_ARENA_BYTES)
  private arenaUsed = 0
  private slots = new Uint32Array(FIRST_SLOTS * SLOT_WORDS)
  private occupied = 0
  private readonly seed = randomBytes(4).readUInt32LE(0)

  get size(): number {
    return this.occupied
  }

  /** Adds `by` (a positive whole number) to the count of `name`. */
  add(name: string, by = 1): void {
    if (!(by >= 1)) throw new RangeError(`NameCounts.add: ${by} is not a positive count`)
    // the name is written after the names kept; it stays there only if it is new
    const length = Buffer.byteLength(name)
    this.reserveArena(length)
    this.arena.write(name, this.arenaUsed, length, 'utf8')
    const hash = murmur32(this.arena.subarray(this.arenaUsed, this.arenaUsed + length), this.seed)
    const mask = this.slots.length / SLOT_WORDS - 1
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = slot * SLOT_WORDS
      if (this.slots[at + 3] === 0) {
        this.slots.set([hash, this.arenaUsed, length, by], at)
        this.arenaUsed += length
        if (++this.occupied * 4 > (mask + 1) * 3) this.growSlots()
        return
      }
      if (this.slots[at] === hash && this.slots[at + 2] === length && this.sameBytes(this.slots[at + 1], length)) {
        this.slots[at + 3] += by
        return
      }
    }
  }

  /** Every name with its count. */
  *entries(): Generator<[string, number]> {
    for (let at = 0; at < this.slots.length; at += SLOT_WORDS) {
      const count = this.slots[at + 3]
      if (count > 0) yield [this.arena.toString('utf8', this.slots[at + 1], this.slots[at + 1] + this.slots[at + 2]), count]
    }
  }

  private sameBytes(offset: number, length: number): boolean {
    return this.arena.compare(this.arena, this.arenaUsed, this.arenaUsed + length, offset, offset + length) === 0
  }

  private reserveArena(length: number): void {
    if (this.arenaUsed + length <= this.arena.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + length))
    this.arena.copy(grown, 0, 0, this.arenaUsed)
    this.arena = grown
  }

  private growSlots(): void {
    const old = this.slots
    this.slots = new Uint32Array(old.length * 2)
    const mask = this.slots.length / SLOT_WORDS - 1
    for (let at = 0; at < old.length; at += SLOT_WORDS) {
      if (old[at + 3] === 0) continue
      let slot = old[at] & mask
      while (this.slots[slot * SLOT_WORDS + 3] !== 0) slot = (slot + 1) & mask
      this.slots.set(old.subarray(at, at + SLOT_WORDS), slot * SLOT_WORDS)
    }
  }
}
