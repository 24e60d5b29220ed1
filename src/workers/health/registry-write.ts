import type { RedisClient } from '../../redis/connection-factory';
import type { RegistryEntry } from '../../domain/registry-entry';

/**
 * Writes one registry value unless the stored one is newer, in one script so
 * no other write can fall between the read and the write (SPEC §1: the
 * registry never goes backwards). Newer means a greater `startedId` (stream
 * ids `ms-seq`, compared as numbers); a value without one, or unreadable,
 * is the oldest there is. An equal id is the same deployment handled again
 * (a redelivery) and is written.
 *
 * KEYS[1] registry hash; ARGV: service, value (JSON), startedId ('' = none).
 * Returns {1} when written, {0, storedStartedId} when refused.
 */
const WRITE_UNLESS_NEWER = `
local function parts(id)
  if type(id) ~= 'string' then return nil end
  return string.match(id, '^(%d+)-(%d+)$')
end
-- Digit strings without leading zeros: longer is greater, else text order.
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local ok, entry = pcall(cjson.decode, stored)
  local storedId = ok and type(entry) == 'table' and entry.startedId or nil
  local sMs, sSeq = parts(storedId)
  if sMs then
    local nMs, nSeq = parts(ARGV[3])
    local newer = (not nMs) or greater(sMs, nMs) or (sMs == nMs and greater(sSeq, nSeq))
    if newer then
      return {0, storedId}
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1}
`;

export type RegistryWrite = { written: true } | { written: false; storedStartedId: string };

/** The script as a command of the client (ioredis `defineCommand`). */
const COMMAND = 'printeryRegistryWrite';

type WithRegistryWrite = RedisClient & {
  [COMMAND]: (key: string, service: string, value: string, startedId: string) => Promise<unknown>;
};

/**
 * The client with the script defined on it, once per client: ioredis then
 * sends the script's SHA1 (EVALSHA) and the whole script only the first
 * time per connection or after a NOSCRIPT (a restarted or failed-over
 * server), instead of its ~800 bytes on every write as EVAL did.
 */
function withRegistryWrite(redis: RedisClient): WithRegistryWrite {
  if (!(COMMAND in redis)) {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: WRITE_UNLESS_NEWER });
  }
  return redis as WithRegistryWrite;
}

/** Records `entry` for `service` in the registry hash `key` unless a newer value is there. */
export async function writeRegistryEntry(
  redis: RedisClient,
  key: string,
  service: string,
  entry: RegistryEntry,
): Promise<RegistryWrite> {
  const reply = (await withRegistryWrite(redis)[COMMAND](
    key,
    service,
    JSON.stringify(entry),
    entry.startedId ?? '',
  )) as [number, string?];
  return reply[0] === 1 ? { written: true } : { written: false, storedStartedId: String(reply[1]) };
}
