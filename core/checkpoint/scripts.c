/*
 * scripts.c: the Lua scripts of the checkpoint store. Each runs atomically in Redis (no other command
 * runs in between) and touches only the keys of the partitions it is given, whose hash tags put each
 * partition's keys in one cluster slot (the blob keys it reads from a meta's `keys` field share that tag).
 */
#include "checkpoint/checkpoint_int.h"

/*
 * Write. KEYS: per part, its meta key and its new blob key. ARGV[1] = number of parts, then per part 8
 * values: the writer's epoch, expected seq ("0" for none; "*" for a full snapshot, which replaces whatever
 * chain is there, so that it also follows a write whose outcome was lost with the connection), new seq,
 * "full" or "delta", blob, record, record checksum, chain keys after this write. Every part is checked
 * before anything is written, so a refusal writes nothing: "FENCED <meta> <stored fence> <epoch>" when a
 * higher epoch claimed it, "CONFLICT <meta> <stored seq> <expected seq>" when another writer moved it. A
 * full snapshot deletes the previous chain.
 */
const char lp__ckpt_lua_write[] =
  "local n = tonumber(ARGV[1])\n"
  "for i = 0, n - 1 do\n"
  "  local meta = KEYS[2 * i + 1]\n"
  "  local a = 2 + 8 * i\n"
  "  local cur = redis.call('HMGET', meta, 'fence', 'seq')\n"
  "  if (tonumber(cur[1]) or 0) > tonumber(ARGV[a]) then\n"
  "    return redis.error_reply('FENCED ' .. meta .. ' ' .. cur[1] .. ' ' .. ARGV[a])\n"
  "  end\n"
  "  local seq = cur[2] or '0'\n"
  "  if ARGV[a + 1] ~= '*' and seq ~= ARGV[a + 1] then\n"
  "    return redis.error_reply('CONFLICT ' .. meta .. ' ' .. seq .. ' ' .. ARGV[a + 1])\n"
  "  end\n"
  "end\n"
  "for i = 0, n - 1 do\n"
  "  local meta, blob = KEYS[2 * i + 1], KEYS[2 * i + 2]\n"
  "  local a = 2 + 8 * i\n"
  "  if ARGV[a + 3] == 'full' then\n"
  "    local old = redis.call('HGET', meta, 'keys')\n"
  "    if old then\n"
  "      for k in string.gmatch(old, '%S+') do redis.call('DEL', k) end\n"
  "    end\n"
  "  end\n"
  "  redis.call('SET', blob, ARGV[a + 4])\n"
  "  redis.call('HSET', meta, 'fence', ARGV[a], 'seq', ARGV[a + 2], 'rec', ARGV[a + 5], 'sum', ARGV[a + 6],\n"
  "             'keys', ARGV[a + 7])\n"
  "end\n"
  "return n\n";

/*
 * Read (and claim). KEYS[1] = a meta key, ARGV[1] = the claiming epoch: "0" reads only, "next" claims with
 * the stored fence + 1 (whoever claims last owns it), a number claims with that epoch: lower than the
 * stored fence is refused ("FENCED ..."), higher raises the fence. Returns {fence}
 * without a checkpoint, else {fence, record, checksum, keys, key1, blob1, key2, blob2, ...} (a missing
 * blob is a nil), read in one atomic step so that a concurrent compaction can never show half a chain.
 */
const char lp__ckpt_lua_read[] =
  "local cur = redis.call('HMGET', KEYS[1], 'fence', 'rec', 'sum', 'keys')\n"
  "local fence = tonumber(cur[1]) or 0\n"
  "local fs = cur[1] or '0'\n"
  "local e = tonumber(ARGV[1])\n"
  "if ARGV[1] == 'next' then e = fence + 1 end\n"
  "if e > 0 then\n"
  "  if fence > e then\n"
  "    return redis.error_reply('FENCED ' .. KEYS[1] .. ' ' .. tostring(cur[1]) .. ' ' .. ARGV[1])\n"
  "  end\n"
  "  if e > fence then\n"
  "    fs = string.format('%d', e)\n"
  "    redis.call('HSET', KEYS[1], 'fence', fs)\n"
  "  end\n"
  "end\n"
  "if not cur[2] then return {fs} end\n"
  "local out = {fs, cur[2], cur[3] or '', cur[4] or ''}\n"
  "if cur[4] then\n"
  "  for k in string.gmatch(cur[4], '%S+') do\n"
  "    out[#out + 1] = k\n"
  "    out[#out + 1] = redis.call('GET', k)\n"
  "  end\n"
  "end\n"
  "return out\n";
