/** MurmurHash3 (x86, 32-bit): fast and well mixed for short keys. */
export function murmur32(bytes: Uint8Array, seed: number): number {
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
