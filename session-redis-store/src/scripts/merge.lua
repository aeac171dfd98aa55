-- Merges one request's changes into the session record at KEYS[1], if it is there.
--
-- ARGV[1]: the TTL in milliseconds ('0': none); ARGV[2]: the record's new stamp, the
-- JSON of its third element without its "meta" member ('': none); ARGV[3]: the revision (the stamp's "rev") of
-- the record as the request loaded it ('': none); ARGV[4]: the whole record as the
-- request would write it (what it loaded, with its changes applied, and the new
-- stamp); then triples (op, key, value), keys and values as JSON text: 's' sets a
-- value, 'r' removes one, 'i' adds an integer to one, 'c' removes a flash value if it
-- is still `value`, 'f' sets a flash value, 'm' (key '""') replaces the login choices
-- (the stamp's "meta") with `value`; without 'm' the stored ones are kept. The client
-- sends value changes first, then consumed flash values, then flash values set: the
-- order of `SessionChanges::apply_to`, whose rules this follows.
--
-- Answers 0 when no record is there, or only a renewal's successor record (nothing is
-- written: a logout is never undone, and an old ID never becomes a session again),
-- 1 when merged, 2 when the record is not a session record (nothing is written).
--
-- Nearly always nobody wrote the key since the request read it: its revision is still
-- the one loaded, and the whole record is the merge's result, written as it is. Every
-- write draws a new revision, so any other write in between sends the script down
-- the merge.
--
-- The merge copies untouched members as text, never decoded: Lua's cjson would
-- re-encode numbers with 14 significant digits and empty arrays as objects, changing
-- values this request never touched. The scan needs only where each member starts
-- and ends.

local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end

local function store(record)
  if ARGV[1] == '0' then
    redis.call('SET', KEYS[1], record)
  else
    redis.call('SET', KEYS[1], record, 'PX', ARGV[1])
  end
  return 1
end

-- The stamp ends the record, and "rev" ends the stamp: a look at the last bytes.
if ARGV[3] ~= '' and string.match(string.sub(raw, -40), '"rev":(%d+)}%]$') == ARGV[3] then
  return store(ARGV[4])
end

local find, sub, byte = string.find, string.sub, string.byte

-- The first non-blank character at or after i.
local function blank(s, i)
  return (find(s, '[^ \t\r\n]', i))
end

-- The quote that closes the string opening at i.
local function string_end(s, i)
  local j = i + 1
  while true do
    local k = find(s, '["\\]', j)
    if not k then return nil end
    if byte(s, k) == 34 then return k end
    j = k + 2
  end
end

-- The last character of the JSON value starting at i.
local function value_end(s, i)
  local c = byte(s, i)
  if c == 34 then return string_end(s, i) end
  if c ~= 123 and c ~= 91 then
    local k = find(s, '[,}%] \t\r\n]', i)
    return k and k - 1
  end
  local depth, j = 0, i
  while true do
    local k = find(s, '[%[%]{}"]', j)
    if not k then return nil end
    local b = byte(s, k)
    if b == 34 then
      k = string_end(s, k)
      if not k then return nil end
    elseif b == 123 or b == 91 then
      depth = depth + 1
    else
      depth = depth - 1
      if depth == 0 then return k end
    end
    j = k + 1
  end
end

-- A member's key as text to compare: decoded only when it holds an escape.
local function name(key)
  if find(key, '\\', 1, true) then
    local ok, decoded = pcall(cjson.decode, key)
    if ok and type(decoded) == 'string' then return decoded end
  end
  return sub(key, 2, -2)
end

-- The object opening at i, as its members in order and an index by key, and where
-- it ends. A key given twice keeps its last value, as every JSON reader here does.
local function object(s, i)
  local members, at = {}, {}
  if not i or byte(s, i) ~= 123 then return nil end
  i = blank(s, i + 1)
  if i and byte(s, i) == 125 then return {members = members, at = at}, i end
  while i do
    if byte(s, i) ~= 34 then return nil end
    local key_end = string_end(s, i)
    if not key_end then return nil end
    local colon = blank(s, key_end + 1)
    if not colon or byte(s, colon) ~= 58 then return nil end
    local start = blank(s, colon + 1)
    if not start then return nil end
    local stop = value_end(s, start)
    if not stop or stop < start then return nil end
    local key = sub(s, i, key_end)
    local earlier = at[name(key)]
    if earlier then members[earlier][2] = nil end
    members[#members + 1] = {key, sub(s, start, stop)}
    at[name(key)] = #members
    local after = blank(s, stop + 1)
    if not after then return nil end
    local b = byte(s, after)
    if b == 125 then return {members = members, at = at}, after end
    if b ~= 44 then return nil end
    i = blank(s, after + 1)
  end
  return nil
end

-- Whether two JSON texts hold the same value: equal text, or equal once decoded
-- (another writer may order keys or spell numbers and escapes differently).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= 'table' then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function same_json(x, y)
  if x == y then return true end
  local ok_x, a = pcall(cjson.decode, x)
  local ok_y, b = pcall(cjson.decode, y)
  return ok_x and ok_y and same(a, b)
end

local function get(o, key)
  local n = o.at[name(key)]
  return n and o.members[n][2]
end

local function put(o, key, value)
  local n = o.at[name(key)]
  if n then
    o.members[n][2] = value
  else
    o.members[#o.members + 1] = {key, value}
    o.at[name(key)] = #o.members
  end
end

local function drop(o, key)
  local n = o.at[name(key)]
  if n then o.members[n][2] = nil end
end

local function encode(o)
  local out = {}
  for _, member in ipairs(o.members) do
    if member[2] then out[#out + 1] = member[1] .. ':' .. member[2] end
  end
  return '{' .. table.concat(out, ',') .. '}'
end

-- The record: [values], [values, flash] or [values, flash, stamp]; [] is empty.
local empty = function() return {members = {}, at = {}} end
local values, flash
local i = blank(raw, 1)
if not i or byte(raw, i) ~= 91 then return 2 end
i = blank(raw, i + 1)
if i and byte(raw, i) == 93 then
  values, flash = empty(), empty()
else
  values, i = object(raw, i)
  if not values then return 2 end
  i = blank(raw, i + 1)
  if i and byte(raw, i) == 44 then
    flash, i = object(raw, blank(raw, i + 1))
    if not flash then return 2 end
    i = blank(raw, i + 1)
    if not i or (byte(raw, i) ~= 44 and byte(raw, i) ~= 93) then return 2 end
  elseif i and byte(raw, i) == 93 then
    flash = empty()
  else
    return 2
  end
end

-- The stored stamp: a renewal's successor record counts as gone; its login choices
-- are kept unless this request changed them.
local stored_meta
if i and byte(raw, i) == 44 then
  local stamp = object(raw, blank(raw, i + 1))
  if stamp then
    if get(stamp, '"next"') then return 0 end
    stored_meta = get(stamp, '"meta"')
  end
end

-- Counters are exact while they fit a double's 53-bit mantissa, and saturate there.
local exact = 9007199254740992
for n = 5, #ARGV, 3 do
  local op, key, value = ARGV[n], ARGV[n + 1], ARGV[n + 2]
  if op == 's' then
    put(values, key, value)
  elseif op == 'r' then
    drop(values, key)
  elseif op == 'i' then
    local text = get(values, key)
    local count = text and find(text, '^%-?%d+$') and tonumber(text) or 0
    local sum = math.max(-exact, math.min(exact, count + tonumber(value)))
    put(values, key, string.format('%.0f', sum))
  elseif op == 'c' then
    local stored = get(flash, key)
    if stored and same_json(stored, value) then drop(flash, key) end
  elseif op == 'f' then
    put(flash, key, value)
  elseif op == 'm' then
    stored_meta = value
  end
end

local stamp = ARGV[2]
if stored_meta and stored_meta ~= '{}' then
  if stamp == '' then
    stamp = '{"meta":' .. stored_meta .. '}'
  else
    stamp = '{"meta":' .. stored_meta .. ',' .. sub(stamp, 2)
  end
end
local record = '[' .. encode(values) .. ',' .. encode(flash)
if stamp ~= '' then record = record .. ',' .. stamp end
record = record .. ']'
return store(record)
