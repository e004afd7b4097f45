/**
 * Lua scripts that do per-key work inside Redis, one call per batch instead
 * of one or two commands per key. On a single server a batch runs as one
 * script; on a cluster, where a script may only touch keys of one slot, the
 * same scripts run one key at a time (see store/redis-batches).
 */

import {LATEST_RECORD_TIME, keyPrefix} from '../store/records.js'

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

/** What SCAN_RECORDS says of each key it found (one character per key, in its codes). */
export const SCANNED = {
  /** A string record, read whole. */
  string: 's',
  /** A string that did not fit in what was left of the call's byte budget; the value item is its length, for the caller to read it. */
  unreadString: 'L',
  /** A set: its size, and its orphan entries when the call could count them. */
  set: 't',
  /** Not of the type its name calls for (a user index that is not a set, a record that is not a string). */
  otherType: 'x',
} as const

/**
 * One step of a walk over the keyspace on a single server: SCAN inside the
 * script, then each key read in the same call, so that the keys never make
 * the round trip to the client and back. ARGV[1]: the SCAN cursor; ARGV[2]:
 * MATCH; ARGV[3]: COUNT; ARGV[4]: the most value bytes this call may copy;
 * ARGV[5]: the most index-set members it may check for orphans ('0' for
 * none). A user index (by its name) is read with SCARD, anything else with
 * GETRANGE, so that only a key of the wrong type answers an error. Returns
 * {cursor, keys found, keys, values, pttls, codes, orphans} for the keys
 * still there: the value (the string; a set's size; an unread string's
 * length; false), the PTTL, and one of SCANNED per key (one character each,
 * in one text); and for each key found as a set, in order, its entries whose
 * oauth:token:{jti} is gone (-1 when not counted here: no budget left, or not
 * asked). The PTTLs go back as integers: formatting numbers into text cost
 * Redis about a tenth of its time in this script (measured at 1M keys).
 * Declares no keys, which a single server allows and a cluster does not.
 */
export const SCAN_RECORDS: LuaScript = {
  name: 'mcpauthScanRecords',
  lua: `
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local room, members = tonumber(ARGV[4]), tonumber(ARGV[5])
local found, keys, values, pttls, codes, orphan_counts, n, sets = page[2], {}, {}, {}, {}, {}, 0, 0
local INDEX_PREFIX, TOKEN_PREFIX = '${keyPrefix('user_tokens')}', '${keyPrefix('token')}'
local function orphans_of(size, key)
  if size > members then return -1 end
  members = members - size
  local tokens = redis.call('SMEMBERS', key)
  for j = 1, #tokens do tokens[j] = TOKEN_PREFIX .. tokens[j] end
  local gone = #tokens
  -- unpack() has a stack limit: at most 1000 keys per EXISTS
  for from = 1, #tokens, 1000 do
    gone = gone - redis.call('EXISTS', unpack(tokens, from, math.min(from + 999, #tokens)))
  end
  return gone
end
local function read_set(key)
  local size = redis.pcall('SCARD', key)
  if type(size) ~= 'number' then return '${SCANNED.otherType}', false, -1 end
  return '${SCANNED.set}', size, orphans_of(size, key)
end
local function read_string(key)
  -- GETRANGE copies at most what is left of the budget (plus a byte); a string that does not fit counts against it all the same
  if room > 0 then
    local value = redis.pcall('GETRANGE', key, 0, room)
    if type(value) ~= 'string' then return '${SCANNED.otherType}', false end
    if #value <= room then
      room = room - #value
      return '${SCANNED.string}', value
    end
    room = 0
  end
  local length = redis.pcall('STRLEN', key)
  if type(length) ~= 'number' then return '${SCANNED.otherType}', false end
  return '${SCANNED.unreadString}', length
end
for i = 1, #found do
  local key = found[i]
  local ttl = redis.call('PTTL', key)
  if ttl ~= -2 then
    local code, value, orphans
    if string.sub(key, 1, #INDEX_PREFIX) == INDEX_PREFIX then
      code, value, orphans = read_set(key)
    else
      code, value = read_string(key)
      orphans = -1
    end
    n = n + 1
    keys[n], values[n] = key, value
    pttls[n], codes[n] = ttl, code
    if code == '${SCANNED.set}' then
      sets = sets + 1
      orphan_counts[sets] = orphans
    end
  end
end
return {page[1], #found, keys, values, pttls, table.concat(codes), orphan_counts}
`,
}

/**
 * Index entries whose oauth:token:{jti} no longer exists, a page at a time so
 * that no call walks a huge set at once. KEYS: user index sets; ARGV[1]:
 * 'remove' to also SREM what is found; ARGV[2]: the most members this call
 * may look at; ARGV[2 + i]: the SSCAN cursor of KEYS[i] ('0' to start).
 * Returns {reached, cursors, orphans, emptied}: the sets up to position
 * reached were looked at (the others are left for the next call); for each,
 * its next cursor ('0' when done), the orphans found (and removed), and 1
 * when a removal left the set empty, so that Redis dropped it. A key of
 * another type counts as done. Reads keys it was not given, which a single
 * server allows and a cluster does not.
 */
export const FIND_ORPHAN_ENTRIES: LuaScript = {
  name: 'mcpauthFindOrphans',
  lua: `
local remove = ARGV[1] == 'remove'
local budget = tonumber(ARGV[2])
local cursors, orphans, emptied = {}, {}, {}
local seen, reached = 0, 0
for i, key in ipairs(KEYS) do
  if seen >= budget then break end
  reached = i
  orphans[i] = 0
  emptied[i] = 0
  -- pcall: a key of another type answers WRONGTYPE, an error table, and is skipped
  local page = redis.pcall('SSCAN', key, ARGV[2 + i], 'COUNT', 100)
  if page.err then
    cursors[i] = '0'
  else
    cursors[i] = page[1]
    for _, jti in ipairs(page[2]) do
      seen = seen + 1
      if redis.call('EXISTS', 'oauth:token:' .. jti) == 0 and (not remove or redis.call('SREM', key, jti) == 1) then
        orphans[i] = orphans[i] + 1
      end
    end
    if remove and orphans[i] > 0 and redis.call('EXISTS', key) == 0 then emptied[i] = 1 end
  end
end
return {reached, cursors, orphans, emptied}
`,
}

/**
 * Takes one member out of a user index set and tells, in the same atomic
 * step, whether that emptied it: two removals running side by side (a
 * cluster's per-key path) then never both count the same emptied set.
 * KEYS[1]: the set; ARGV[1]: the member. Returns 0 (not there, or not a
 * set), 1 (removed), 2 (removed, and the set is gone).
 */
export const REMOVE_INDEX_ENTRY: LuaScript = {
  name: 'mcpauthRemoveIndexEntry',
  lua: `
if redis.pcall('SREM', KEYS[1], ARGV[1]) ~= 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 2 end
return 1
`,
}

/**
 * Deletes each key only if it is still past its expiry by Redis's own clock,
 * so a record that became valid between the scan and the delete stays.
 * ARGV, five per key: the field holding the absolute expiry ('' for none),
 * a lifetime counted from created_at ('' for none), '1' to require that the
 * key has no TTL, and a user index set and member to SREM when the key goes
 * ('' for none; a single server only, since the set lies in another slot).
 * Times are read as store/records reads them (epoch seconds or milliseconds,
 * 1970 to 9999); a record whose time is not one is kept.
 * Returns {outcomes, index entries removed, index sets emptied}; per key
 * 1 deleted, 0 already gone, -1 kept.
 */
export const DELETE_IF_STILL_EXPIRED: LuaScript = {
  name: 'mcpauthDeleteIfStillExpired',
  lua: `
local now = tonumber(redis.call('TIME')[1])
local function as_time(value)
  local number = tonumber(value)
  if number == nil or number ~= number then return nil end
  if number > 1e12 then number = number / 1000 end
  if number < 0 or number > ${LATEST_RECORD_TIME} then return nil end
  return number
end
local function expiry_of(raw, field, lifetime)
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= 'table' then return nil end
  if field ~= '' then return as_time(record[field]) end
  if lifetime ~= '' then
    local created = as_time(record['created_at'])
    if created then return created + tonumber(lifetime) end
  end
  return nil
end
local function purge(key, field, lifetime, require_no_ttl)
  -- GET answers false for a missing key and an error table for another type
  local raw = redis.pcall('GET', key)
  if raw == false then return 0 end
  if type(raw) ~= 'string' then return -1 end
  if require_no_ttl == '1' and redis.call('PTTL', key) ~= -1 then return -1 end
  if field ~= '' or lifetime ~= '' then
    local expiry = expiry_of(raw, field, lifetime)
    -- a secret expiry of 0 means never (RFC 7591)
    if expiry == nil or expiry > now or (expiry == 0 and field == 'client_secret_expires_at') then return -1 end
  end
  redis.call('UNLINK', key)
  return 1
end
local outcomes = {}
local entries_removed, sets_emptied = 0, 0
for i, key in ipairs(KEYS) do
  local at = 5 * (i - 1)
  outcomes[i] = purge(key, ARGV[at + 1], ARGV[at + 2], ARGV[at + 3])
  local index = ARGV[at + 4]
  if outcomes[i] == 1 and index ~= '' and redis.pcall('SREM', index, ARGV[at + 5]) == 1 then
    entries_removed = entries_removed + 1
    if redis.call('EXISTS', index) == 0 then sets_emptied = sets_emptied + 1 end
  end
end
return {outcomes, entries_removed, sets_emptied}
`,
}

/**
 * Lua shared by the backup's reads: `collection(key, kind)` gives the members
 * of a set, hash or list (field, value, … for a hash) when it may be read
 * whole by this call, else false and why: 'large' when no call may read it
 * whole (more than `limit` members, or more than `budget` bytes by MEMORY
 * USAGE, which counts Redis's own overhead too and so errs on the safe side:
 * the caller reads it in pages), 'later' when it does not fit what is left of
 * this call (`room` bytes, `members_left` members). Reading spends both. The
 * script defines budget, room, limit and members_left first.
 */
const READ_COLLECTION_LUA = `
local SIZE_OF = {set = 'SCARD', hash = 'HLEN', list = 'LLEN'}
local function collection(key, kind)
  local size = redis.call(SIZE_OF[kind], key)
  if size > limit then return false, 'large' end
  local bytes = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')
  if bytes > budget then return false, 'large' end
  if size > members_left or bytes > room then return false, 'later' end
  members_left = members_left - size
  local items
  if kind == 'list' then items = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'set' then items = redis.call('SMEMBERS', key)
  else items = redis.call('HGETALL', key) end
  for _, item in ipairs(items) do room = room - #item end
  return items
end
`

/**
 * KEYS: keys to back up; ARGV[1]: the most value bytes this call may read;
 * ARGV[2]: the most members a set, hash or list may have to be read here;
 * ARGV[3]: the most members this call reads in all. Returns three items per
 * key, for the first keys only when a budget runs out (the caller sends the
 * rest again): its type, its PTTL, and its value (the string; the members;
 * for a hash field, value, …), or false for a string larger than the budget
 * or a collection no call may read whole, which the caller reads in pages.
 * Strings are read with GETRANGE up to the budget, so no call copies more
 * than that (a string is read without a TYPE call: most keys are strings).
 */
export const READ_FOR_BACKUP: LuaScript = {
  name: 'mcpauthReadForBackup',
  lua: `
local budget, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local room, members_left = budget, tonumber(ARGV[3])
local untouched = members_left
${READ_COLLECTION_LUA}
local out = {}
for _, key in ipairs(KEYS) do
  local ttl = redis.call('PTTL', key)
  local kind = 'none'
  local value = false
  if ttl ~= -2 then
    local text = redis.pcall('GETRANGE', key, 0, room)
    -- what does not fit what is left of this call may fit the next one: the caller sends it again
    local fresh = room == budget and members_left == untouched
    if type(text) == 'string' then
      kind = 'string'
      if #text <= room then
        value = text
        room = room - #text
      elseif not fresh then
        break
      end
    else
      kind = redis.call('TYPE', key)['ok']
      if SIZE_OF[kind] then
        local why
        value, why = collection(key, kind)
        if why == 'later' and not fresh then break end
      end
    end
  end
  out[#out + 1] = kind
  out[#out + 1] = ttl
  out[#out + 1] = value
  if room <= 0 then break end
end
return out
`,
}

/**
 * One step of a backup's walk on a single server: SCAN inside the script,
 * then type, absolute expiry and value of each key found, in the same call
 * (no round trip of the keys to the client and back). ARGV[1]: the SCAN
 * cursor; ARGV[2]: MATCH; ARGV[3]: COUNT; ARGV[4]: the most value bytes this
 * call may copy; ARGV[5]: the most members of a set, hash or list it reads
 * whole; ARGV[6]: the most members it reads in all (many middling sets in one
 * page would otherwise keep Redis busy for long). Returns {cursor, keys,
 * types, expiries, values} for the keys still there: the expiry is
 * PEXPIRETIME's (ms since the epoch, -1 for none: exact, where TIME + PTTL
 * can be a millisecond late); a value is false when it was not read here (past
 * a budget, or a type a backup does not hold): the caller reads those again
 * by key. A user index (by its name) is asked its TYPE first, so that sets
 * do not each answer GETRANGE an error. Declares no keys, which a single
 * server allows and a cluster does not.
 */
export const SCAN_FOR_BACKUP: LuaScript = {
  name: 'mcpauthScanForBackup',
  lua: `
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local budget, limit, members_left = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local room = budget
local INDEX_PREFIX = '${keyPrefix('user_tokens')}'
${READ_COLLECTION_LUA}
local found, keys, types, expiries, values, n = page[2], {}, {}, {}, {}, 0
local function read(key)
  if room > 0 and string.sub(key, 1, #INDEX_PREFIX) ~= INDEX_PREFIX then
    -- GETRANGE copies at most what is left of the budget (plus a byte)
    local text = redis.pcall('GETRANGE', key, 0, room)
    if type(text) == 'string' then
      if #text > room then
        room = 0
        return 'string', false
      end
      room = room - #text
      return 'string', text
    end
  end
  local kind = redis.call('TYPE', key)['ok']
  if not SIZE_OF[kind] then return kind, false end
  return kind, (collection(key, kind))
end
for i = 1, #found do
  local key = found[i]
  local expiry = redis.call('PEXPIRETIME', key)
  if expiry ~= -2 then
    local kind, value = read(key)
    if kind ~= 'none' then
      n = n + 1
      keys[n], types[n], expiries[n], values[n] = key, kind, expiry, value
    end
  end
end
return {page[1], keys, types, expiries, values}
`,
}

/** What RESTORE_KEYS did with one key. */
export const RESTORE_OUTCOME = {expired: -1, kept: 0, written: 1, overwritten: 2} as const

/**
 * Writes keys of a backup, each atomically (restore.ts): one call per batch
 * on a single server, one key per call on a cluster. ARGV[1]: mode ('merge'
 * keeps an existing key, 'overwrite' replaces it); then for each key: type
 * (string, set, list, hash), absolute expiry in ms ('' for none), the number
 * of value items, and the items (the string, the members, or field, value, …).
 * Expiry is checked against Redis's TIME, the clock PEXPIREAT uses.
 * Returns per key one of RESTORE_OUTCOME.
 */
export const RESTORE_KEYS: LuaScript = {
  name: 'mcpauthRestoreKeys',
  lua: `
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local merge = ARGV[1] == 'merge'
local adders = {set = 'SADD', list = 'RPUSH', hash = 'HSET'}
local function restore(key, kind, expiry, first, count)
  if expiry ~= '' and tonumber(expiry) <= now_ms then return ${RESTORE_OUTCOME.expired} end
  if merge and kind == 'string' then
    -- the common case in one call: SET NX writes only a key that is absent, with its expiry
    local set
    if expiry == '' then set = redis.call('SET', key, ARGV[first], 'NX') else set = redis.call('SET', key, ARGV[first], 'NX', 'PXAT', expiry) end
    if set then return ${RESTORE_OUTCOME.written} end
    return ${RESTORE_OUTCOME.kept}
  end
  local existed = redis.call('EXISTS', key) == 1
  if existed then
    if merge then return ${RESTORE_OUTCOME.kept} end
    redis.call('UNLINK', key)
  end
  if kind == 'string' then
    redis.call('SET', key, ARGV[first])
  else
    -- unpack() has a stack limit: add at most 1000 arguments (an even number, for hashes) at a time
    local last = first + count - 1
    for from = first, last, 1000 do
      redis.call(adders[kind], key, unpack(ARGV, from, math.min(from + 999, last)))
    end
  end
  if expiry ~= '' then redis.call('PEXPIREAT', key, expiry) end
  if existed then return ${RESTORE_OUTCOME.overwritten} end
  return ${RESTORE_OUTCOME.written}
end
local outcomes = {}
local at = 2
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[at + 2])
  outcomes[i] = restore(key, ARGV[at], ARGV[at + 1], at + 3, count)
  at = at + 3 + count
end
return outcomes
`,
}

/**
 * Puts a value that was built in pages under a staging name (KEYS[2]) in
 * place of KEYS[1], atomically and in O(1): RENAME, after the same expiry
 * check and merge rule as RESTORE_KEYS. ARGV[1]: mode; ARGV[2]: absolute
 * expiry in ms ('' for none). Returns one of RESTORE_OUTCOME; the staging key is gone afterwards.
 */
export const COMMIT_STAGED: LuaScript = {
  name: 'mcpauthCommitStaged',
  lua: `
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local key, staged, expiry = KEYS[1], KEYS[2], ARGV[2]
if expiry ~= '' and tonumber(expiry) <= now_ms then
  redis.call('UNLINK', staged)
  return ${RESTORE_OUTCOME.expired}
end
local existed = redis.call('EXISTS', key) == 1
if existed then
  if ARGV[1] == 'merge' then
    redis.call('UNLINK', staged)
    return ${RESTORE_OUTCOME.kept}
  end
  -- UNLINK frees a large old value in the background; RENAME over it would free it here
  redis.call('UNLINK', key)
end
redis.call('RENAME', staged, key)
if expiry ~= '' then redis.call('PEXPIREAT', key, expiry) else redis.call('PERSIST', key) end
if existed then return ${RESTORE_OUTCOME.overwritten} end
return ${RESTORE_OUTCOME.written}
`,
}

export const ALL_SCRIPTS: readonly LuaScript[] = [
  READ_RECORDS,
  SCAN_RECORDS,
  REMOVE_INDEX_ENTRY,
  FIND_ORPHAN_ENTRIES,
  DELETE_IF_STILL_EXPIRED,
  READ_FOR_BACKUP,
  SCAN_FOR_BACKUP,
  RESTORE_KEYS,
  COMMIT_STAGED,
]
