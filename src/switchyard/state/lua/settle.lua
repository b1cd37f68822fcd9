-- Replace a request's reservation with its actual cost; correct token counts. Mirrors Counters.settle.
local op = cjson.decode(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local BUCKETS = 60
local function num(v) return tonumber(v) or 0 end
local function int(v) return string.format('%d', v) end

local function release(b)
  local held = redis.call('HGET', b.key .. ':a', op.member)
  if held then
    redis.call('HDEL', b.key .. ':a', op.member)
    redis.call('ZREM', b.key .. ':r', op.member)
    redis.call('DECRBY', b.key .. ':p', held)
  end
end

for _, b in ipairs(op.release) do release(b) end
local spent = {}
for i, b in ipairs(op.budgets) do
  release(b)
  if b.rolling_s == cjson.null or b.rolling_s == nil then
    spent[i] = redis.call('INCRBY', b.key .. ':s', int(op.actual))
    if b.expires_at ~= cjson.null and b.expires_at ~= nil then
      redis.call('EXPIRE', b.key .. ':s', math.ceil(math.max(1, b.expires_at - now + 86400)))
    end
  else
    local width = b.rolling_s / BUCKETS
    local index = math.floor(now / width)
    redis.call('HINCRBY', b.key .. ':b', index, int(op.actual))
    redis.call('EXPIRE', b.key .. ':b', math.ceil(b.rolling_s * 2))
    local first = index - BUCKETS + 1
    local fields = redis.call('HGETALL', b.key .. ':b')
    local total = 0
    for j = 1, #fields, 2 do
      if tonumber(fields[j]) >= first then total = total + tonumber(fields[j + 1]) end
    end
    spent[i] = total
  end
end
for _, c in ipairs(op.limits) do
  local old = redis.call('HGET', c.key .. ':h', op.member)
  if old then
    redis.call('HSET', c.key .. ':h', op.member, int(c.amount))
    redis.call('INCRBY', c.key .. ':t', int(c.amount - num(old)))
  end
end
return cjson.encode(spent)
