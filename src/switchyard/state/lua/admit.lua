-- Admission in one round trip: the same steps, in the same order, as state/counters.py (Counters.admit).
-- ARGV[1]: the Admit as JSON. KEYS: every base key it names (they share one hash tag, so one cluster slot).
-- Per budget key B: B:s settled spend (calendar/total) | B:b rolling buckets | B:r reservations by expiry |
-- B:a reservation amounts | B:p pending total. Per rate key K: K:z entries by time | K:h amounts | K:t total.
local op = cjson.decode(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local BUCKETS = 60

local function num(v) return tonumber(v) or 0 end
local function int(v) return string.format('%d', v) end

local function budget_spent(b)
  if b.rolling_s == cjson.null or b.rolling_s == nil then return num(redis.call('GET', b.key .. ':s')) end
  local width = b.rolling_s / BUCKETS
  local first = math.floor(now / width) - BUCKETS + 1
  local fields = redis.call('HGETALL', b.key .. ':b')
  local total, stale = 0, {}
  for i = 1, #fields, 2 do
    if tonumber(fields[i]) < first then stale[#stale + 1] = fields[i] else total = total + tonumber(fields[i + 1]) end
  end
  if #stale > 0 then redis.call('HDEL', b.key .. ':b', unpack(stale)) end
  return total
end

local function expire_reservations(b)
  local gone = redis.call('ZRANGEBYSCORE', b.key .. ':r', '-inf', now)
  if #gone == 0 then return end
  local amounts = redis.call('HMGET', b.key .. ':a', unpack(gone))
  local freed = 0
  for _, a in ipairs(amounts) do freed = freed + num(a) end
  redis.call('HDEL', b.key .. ':a', unpack(gone))
  redis.call('ZREMRANGEBYSCORE', b.key .. ':r', '-inf', now)
  redis.call('DECRBY', b.key .. ':p', int(freed))
end

local function reset_of(b)
  if b.expires_at ~= cjson.null and b.expires_at ~= nil then return math.max(0, b.expires_at - now) end
  if b.rolling_s ~= cjson.null and b.rolling_s ~= nil then return b.rolling_s / BUCKETS end
  return 0
end

local function min_reset()
  local best = nil
  for _, b in ipairs(op.budgets) do
    if b.hard then
      local r = reset_of(b)
      if best == nil or r < best then best = r end
    end
  end
  return best or 0
end

local function prune(c)
  local horizon = now - c.window_s
  local gone = redis.call('ZRANGEBYSCORE', c.key .. ':z', '-inf', horizon)
  if #gone > 0 then
    local amounts = redis.call('HMGET', c.key .. ':h', unpack(gone))
    local freed = 0
    for _, a in ipairs(amounts) do freed = freed + num(a) end
    redis.call('HDEL', c.key .. ':h', unpack(gone))
    redis.call('ZREMRANGEBYSCORE', c.key .. ':z', '-inf', horizon)
    redis.call('DECRBY', c.key .. ':t', int(freed))
  end
  return num(redis.call('GET', c.key .. ':t'))
end

local function wait_of(c, total)
  if c.amount > c.limit then return c.window_s end
  local excess = total + c.amount - c.limit
  local entries = redis.call('ZRANGE', c.key .. ':z', 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    excess = excess - num(redis.call('HGET', c.key .. ':h', entries[i]))
    if excess <= 0 then return math.max(0, tonumber(entries[i + 1]) + c.window_s - now) end
  end
  return c.window_s
end

local spent, pending = {}, {}
for i, b in ipairs(op.budgets) do
  expire_reservations(b)
  spent[i] = budget_spent(b)
  pending[i] = num(redis.call('GET', b.key .. ':p'))
end

local amount, tier = op.amount, -1
if #op.tiers > 0 then
  local tightest, share = -1, 1.0
  for i, b in ipairs(op.budgets) do
    if b.hard and b.limit > 0 then
      local left = (b.limit - spent[i] - pending[i]) / b.limit
      if left < share then tightest, share = i - 1, left end
    end
  end
  if op.critical then
    tier = 0
  else
    for i, tr in ipairs(op.tiers) do
      if share > 0 and share >= tr.min_remaining then tier = i - 1; break end
    end
  end
  if tier < 0 then
    return cjson.encode({ok = false, kind = 'exhausted', failed = math.max(tightest, 0), retry_after = min_reset()})
  end
  -- A tier whose reservation does not fit degrades to the next, cheaper one rather than rejecting.
  local function fits(a)
    for i, b in ipairs(op.budgets) do
      local cap = b.limit
      if not op.critical then cap = cap - b.reserved end
      if b.hard and spent[i] + pending[i] + a > cap then return false end
    end
    return true
  end
  while tier + 1 < #op.tiers and not fits(op.tiers[tier + 1].amount) do tier = tier + 1 end
  amount = op.tiers[tier + 1].amount
end

for i, b in ipairs(op.budgets) do
  local cap = b.limit
  if not op.critical then cap = cap - b.reserved end
  if b.hard and spent[i] + pending[i] + amount > cap then
    return cjson.encode({ok = false, kind = 'budget', failed = i - 1, retry_after = reset_of(b), tier = tier})
  end
end

local totals, blocked, groups, seen = {}, {}, {}, {}
for i, c in ipairs(op.limits) do
  totals[i] = prune(c)
  if c.group ~= 0 and not seen[c.group] then seen[c.group] = true; groups[#groups + 1] = c.group end
  if totals[i] + c.amount > c.limit then
    local w = wait_of(c, totals[i])
    local prev = blocked[c.group]
    if prev == nil then blocked[c.group] = {i - 1, w} elseif w > prev[2] then prev[2] = w end
  end
end
table.sort(groups)
local chosen = 0
if blocked[0] ~= nil then
  return cjson.encode({ok = false, kind = 'rate', failed = blocked[0][1], retry_after = blocked[0][2], tier = tier})
end
if #groups > 0 then
  chosen = -1
  for _, g in ipairs(groups) do
    if blocked[g] == nil then chosen = g; break end
  end
  if chosen < 0 and op.free_group ~= 0 then chosen = op.free_group end
  if chosen < 0 then
    local best = groups[1]
    for _, g in ipairs(groups) do if blocked[g][2] < blocked[best][2] then best = g end end
    return cjson.encode({ok = false, kind = 'rate', failed = blocked[best][1], retry_after = blocked[best][2],
      tier = tier, group = best})
  end
end

local out_pending = {}
for i, b in ipairs(op.budgets) do
  redis.call('ZADD', b.key .. ':r', now + op.lease_s, op.member)
  redis.call('HSET', b.key .. ':a', op.member, int(amount))
  out_pending[i] = redis.call('INCRBY', b.key .. ':p', int(amount))
  local ttl = op.lease_s
  if b.expires_at ~= cjson.null and b.expires_at ~= nil then ttl = math.max(ttl, b.expires_at - now + 86400) end
  if b.rolling_s ~= cjson.null and b.rolling_s ~= nil then ttl = math.max(ttl, b.rolling_s * 2) end
  if b.expires_at ~= cjson.null and b.expires_at ~= nil or b.rolling_s ~= cjson.null and b.rolling_s ~= nil then
    for _, s in ipairs({':s', ':b', ':r', ':a', ':p'}) do redis.call('EXPIRE', b.key .. s, math.ceil(ttl)) end
  end
end
local used, reset = {}, {}
for i, c in ipairs(op.limits) do
  if c.group ~= 0 and c.group ~= chosen then
    used[i], reset[i] = -1, 0
  else
    redis.call('ZADD', c.key .. ':z', now, op.member)
    redis.call('HSET', c.key .. ':h', op.member, int(c.amount))
    used[i] = redis.call('INCRBY', c.key .. ':t', int(c.amount))
    local first = redis.call('ZRANGE', c.key .. ':z', 0, 0, 'WITHSCORES')
    reset[i] = math.max(0, tonumber(first[2]) + c.window_s - now)
    local ttl = math.ceil(c.window_s) + 1
    for _, s in ipairs({':z', ':h', ':t'}) do redis.call('EXPIRE', c.key .. s, ttl) end
  end
end
-- cjson encodes an empty table as {}: the caller reads an empty object as an empty list.
return cjson.encode({ok = true, tier = tier, group = chosen, reserved = amount, spent = spent,
  pending = out_pending, rate_used = used, rate_reset = reset})
