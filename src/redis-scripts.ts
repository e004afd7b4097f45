/**
 * Lua scripts that do per-key work inside Redis, one call per batch instead
 * of one or two commands per key. On a single server a batch runs as one
 * script; on a cluster, where a script may only touch keys of one slot, the
 * same scripts run one key at a time (see token-store and token-purge).
 */

/** A script registered on the client under `name` and run by its SHA. */
export interface LuaScript {
  name: string
  lua: string
}

/**
 * KEYS: record keys; ARGV[i]: 'set' for a user index, anything else for a
 * string record. Returns, per key, the value (GET, or SCARD for a set; false
 * when the key holds another type) followed by its PTTL (-2 when it is gone).
 */
export const READ_RECORDS: LuaScript = {
  name: 'mcpauthReadRecords',
  lua: `
local out = {}
for i, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  local value = false
  if ttl ~= -2 then
    -- pcall: a key of another type answers WRONGTYPE, an error table, not a value
    value = redis.pcall(ARGV[i] == 'set' and 'SCARD' or 'GET', key)
    if type(value) == 'table' then value = false end
  end
  out[2 * i - 1] = value
  out[2 * i] = ttl
end
return out
`,
}

/**
 * KEYS: user index sets. Returns pairs (position of the set in KEYS, jti) for
 * every jti whose oauth:token:{jti} no longer exists. Reads keys it was not
 * given, which a single server allows and a cluster does not.
 */
export const FIND_ORPHAN_ENTRIES: LuaScript = {
  name: 'mcpauthFindOrphans',
  lua: `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'set' then
    for _, jti in ipairs(redis.call('SMEMBERS', key)) do
      if redis.call('EXISTS', 'oauth:token:' .. jti) == 0 then
        out[#out + 1] = i
        out[#out + 1] = jti
      end
    end
  end
end
return out
`,
}

/**
 * Deletes each key only if it is still past its expiry by Redis's own clock,
 * so a record that became valid between the scan and the delete stays.
 * ARGV, three per key: the field holding the absolute expiry ('' for none),
 * a lifetime counted from created_at ('' for none), '1' to require that the
 * key has no TTL. Returns per key: 1 deleted, 0 already gone, -1 kept.
 */
export const DELETE_IF_STILL_EXPIRED: LuaScript = {
  name: 'mcpauthDeleteIfStillExpired',
  lua: `
local now = tonumber(redis.call('TIME')[1])
local function expiry_of(raw, field, lifetime)
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= 'table' then return nil end
  local expiry = nil
  if field ~= '' then expiry = tonumber(record[field]) end
  if expiry == nil and lifetime ~= '' then
    local created = tonumber(record['created_at'])
    if created then expiry = created + tonumber(lifetime) end
  end
  if expiry ~= nil and expiry > 1e12 then expiry = expiry / 1000 end
  return expiry
end
local function purge(key, field, lifetime, require_no_ttl)
  local actual = redis.call('TYPE', key)['ok']
  if actual == 'none' then return 0 end
  if actual ~= 'string' then return -1 end
  if require_no_ttl == '1' and redis.call('PTTL', key) ~= -1 then return -1 end
  if field ~= '' or lifetime ~= '' then
    local expiry = expiry_of(redis.call('GET', key), field, lifetime)
    if expiry == nil or expiry == 0 or expiry > now then return -1 end
  end
  redis.call('UNLINK', key)
  return 1
end
local outcomes = {}
for i, key in ipairs(KEYS) do
  outcomes[i] = purge(key, ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i])
end
return outcomes
`,
}

/** What RESTORE_KEY did with one key. */
export const RESTORE_OUTCOME = {expired: -1, kept: 0, written: 1, overwritten: 2} as const

/**
 * Writes one key of a backup, atomically (restore.ts). KEYS[1]: the key.
 * ARGV: mode ('merge' keeps an existing key, 'overwrite' replaces it), type
 * (string, set, list, hash), absolute expiry in ms ('' for none), then the
 * value (the string, the members, or field, value, …). The expiry is checked
 * against Redis's TIME, the clock PEXPIREAT uses; one key per call, so it
 * runs the same on a cluster.
 */
export const RESTORE_KEY: LuaScript = {
  name: 'mcpauthRestoreKey',
  lua: `
if ARGV[3] ~= '' then
  local now = redis.call('TIME')
  if tonumber(ARGV[3]) <= tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) then return ${RESTORE_OUTCOME.expired} end
end
local existed = redis.call('EXISTS', KEYS[1]) == 1
if existed then
  if ARGV[1] == 'merge' then return ${RESTORE_OUTCOME.kept} end
  redis.call('UNLINK', KEYS[1])
end
if ARGV[2] == 'string' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  local command = ({set = 'SADD', list = 'RPUSH', hash = 'HSET'})[ARGV[2]]
  -- unpack() has a stack limit: add at most 1000 arguments (an even number, for hashes) at a time
  for first = 4, #ARGV, 1000 do
    redis.call(command, KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
end
if ARGV[3] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
if existed then return ${RESTORE_OUTCOME.overwritten} end
return ${RESTORE_OUTCOME.written}
`,
}

export const ALL_SCRIPTS: readonly LuaScript[] = [READ_RECORDS, FIND_ORPHAN_ENTRIES, DELETE_IF_STILL_EXPIRED, RESTORE_KEY]
