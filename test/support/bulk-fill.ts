import type {Redis} from 'ioredis'

/**
 * The gateway's records by the hundred thousand, written inside Redis by a
 * Lua script (100,000 in about a second, where a pipeline from here takes
 * several), in the gateway's JSON spacing. Ids are numbered so a test can
 * name every record it wrote without keeping a list: record `i` of a fill
 * with prefix `p` is `bulkId(p, i, length)`. One server only: a script that
 * writes many keys cannot run on a cluster.
 */

export interface BulkTokens {
  /** Starts every jti; the rest is the zero-padded index, 22 characters in all. */
  prefix: string
  count: number
  /** Token i belongs to `user${i % users}`. */
  users: number
  /** Token i is issued to clients[i % clients.length]. */
  clients: string[]
  /** Every n-th token (i % n === 0) is past its expires_at though still stored; 0 for none. */
  expiredEvery?: number
}

export interface BulkGrants {
  /** Starts every refresh token or code; 43 characters in all. */
  prefix: string
  count: number
  users: number
  clients: string[]
}

const JTI_LENGTH = 22
const SECRET_LENGTH = 43
const PER_SCRIPT_CALL = 10_000

export const bulkId = (prefix: string, index: number, length: number): string => `${prefix}${String(index).padStart(length - prefix.length, '0')}`
export const bulkJti = (prefix: string, index: number): string => bulkId(prefix, index, JTI_LENGTH)
export const bulkSecret = (prefix: string, index: number): string => bulkId(prefix, index, SECRET_LENGTH)
export const bulkUser = (index: number, users: number): string => `user${index % users}`
export const isBulkExpired = (index: number, expiredEvery = 0): boolean => expiredEvery > 0 && index % expiredEvery === 0

/** Access tokens `oauth:token:{jti}` and their entries in `oauth:user_tokens:{username}`. */
export async function fillAccessTokens(redis: Redis, options: BulkTokens): Promise<void> {
  await inScriptCalls(redis, options.count, (first, last) => [
    'token',
    options.prefix,
    JTI_LENGTH,
    first,
    last,
    options.users,
    options.expiredEvery ?? 0,
    ...options.clients,
  ])
}

/** Refresh tokens `oauth:refresh:{token}`, 30 days to live. */
export async function fillRefreshTokens(redis: Redis, options: BulkGrants): Promise<void> {
  await inScriptCalls(redis, options.count, (first, last) => ['refresh', options.prefix, SECRET_LENGTH, first, last, options.users, 0, ...options.clients])
}

/** Authorization codes `oauth:code:{code}` not yet redeemed, a year to live as the gateway writes them. */
export async function fillCodes(redis: Redis, options: BulkGrants): Promise<void> {
  await inScriptCalls(redis, options.count, (first, last) => ['code', options.prefix, SECRET_LENGTH, first, last, options.users, 0, ...options.clients])
}

/** How many of the keys `keyOf(0..count-1)` exist, in pipelined batches. */
export async function countExisting(
  redis: Redis,
  count: number,
  keyOf: (index: number) => string,
  where: (index: number) => boolean = () => true,
): Promise<number> {
  let existing = 0
  for (let start = 0; start < count; start += PER_SCRIPT_CALL) {
    const pipeline = redis.pipeline()
    for (let index = start; index < Math.min(count, start + PER_SCRIPT_CALL); index++) if (where(index)) pipeline.exists(keyOf(index))
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error
      existing += Number(reply)
    }
  }
  return existing
}

/** How many access tokens of a fill are still listed in their user's index. */
export async function countIndexed(redis: Redis, options: BulkTokens, where: (index: number) => boolean = () => true): Promise<number> {
  let indexed = 0
  for (let start = 0; start < options.count; start += PER_SCRIPT_CALL) {
    const pipeline = redis.pipeline()
    for (let index = start; index < Math.min(options.count, start + PER_SCRIPT_CALL); index++) {
      if (where(index)) pipeline.sismember(`oauth:user_tokens:${bulkUser(index, options.users)}`, bulkJti(options.prefix, index))
    }
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error
      indexed += Number(reply)
    }
  }
  return indexed
}

/**
 * Every `oauth:*` key with its type and a SHA-1 of its value (set members and
 * hash fields sorted), computed inside Redis a SCAN batch at a time: what
 * snapshot() in backups.ts compares, without a round trip per key.
 */
export async function fingerprints(redis: Redis): Promise<Map<string, string>> {
  const result = new Map<string, string>()
  for await (const keys of redis.scanStream({match: 'oauth:*', count: 1000}) as AsyncIterable<string[]>) {
    if (keys.length === 0) continue
    const replies = (await redis.eval(FINGERPRINT_SCRIPT, keys.length, ...keys)) as string[]
    keys.forEach((key, index) => {
      result.set(key, replies[index])
    })
  }
  return result
}

async function inScriptCalls(redis: Redis, count: number, args: (first: number, last: number) => Array<string | number>): Promise<void> {
  for (let first = 0; first < count; first += PER_SCRIPT_CALL) {
    await redis.eval(FILL_SCRIPT, 0, ...args(first, Math.min(count, first + PER_SCRIPT_CALL) - 1))
  }
}

/** ARGV: kind, prefix, id length, first index, last index, users, expiredEvery, client ids... */
const FILL_SCRIPT = `
local kind, prefix, length = ARGV[1], ARGV[2], tonumber(ARGV[3])
local first, last, users, expired_every = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local clients = {}
for i = 8, #ARGV do clients[#clients + 1] = ARGV[i] end
local now = tonumber(redis.call('TIME')[1])
local function q(text) return '"' .. text .. '"' end
for i = first, last do
  local id = prefix .. string.rep('0', length - #prefix - #tostring(i)) .. i
  local user = 'user' .. (i % users)
  local client = clients[(i % #clients) + 1]
  if kind == 'token' then
    local expired = expired_every > 0 and i % expired_every == 0
    local expires_at = expired and (now - 3600) or (now + 86400)
    local record = '{"sub": ' .. q(1000 + i % users) .. ', "username": ' .. q(user) .. ', "email": ' .. q(user .. '@example.com') ..
      ', "name": ' .. q(user .. ' Example') .. ', "scope": "openid profile email", "client_id": ' .. q(client) ..
      ', "created_at": ' .. (expires_at - 86400) .. ', "expires_at": ' .. expires_at .. '}'
    redis.call('SET', 'oauth:token:' .. id, record, 'EX', expired and 3600 or 86400)
    redis.call('SADD', 'oauth:user_tokens:' .. user, id)
  elseif kind == 'refresh' then
    local record = '{"user_id": ' .. q(1000 + i % users) .. ', "username": ' .. q(user) .. ', "client_id": ' .. q(client) ..
      ', "scope": "openid profile email", "created_at": ' .. now .. '}'
    redis.call('SET', 'oauth:refresh:' .. id, record, 'EX', 2592000)
  else
    local record = '{"client_id": ' .. q(client) .. ', "redirect_uri": "http://127.0.0.1:8080/callback", "scope": "openid profile email", ' ..
      '"state": ' .. q('s' .. i) .. ', "code_challenge": ' .. q('c' .. i) .. ', "code_challenge_method": "S256", "user_id": ' .. q(1000 + i % users) ..
      ', "username": ' .. q(user) .. ', "email": null, "name": null}'
    redis.call('SET', 'oauth:code:' .. id, record, 'EX', 31536000)
  end
end
return last - first + 1
`

/** KEYS: keys; returns per key `type:sha1` of its value ('none:' for a key gone since the scan). */
const FINGERPRINT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  local value = ''
  if kind == 'string' then value = redis.call('GET', key)
  elseif kind == 'set' then local members = redis.call('SMEMBERS', key); table.sort(members); value = table.concat(members, '\\n')
  elseif kind == 'list' then value = table.concat(redis.call('LRANGE', key, 0, -1), '\\n')
  elseif kind == 'hash' then
    local flat, pairs_ = redis.call('HGETALL', key), {}
    for j = 1, #flat, 2 do pairs_[#pairs_ + 1] = flat[j] .. '=' .. flat[j + 1] end
    table.sort(pairs_); value = table.concat(pairs_, '\\n')
  end
  out[i] = kind .. ':' .. redis.sha1hex(value)
end
return out
`
