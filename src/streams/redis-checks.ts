import type { RedisClient } from '../redis/connection-factory';
import semver from 'semver';
import { StartupError } from '../errors/startup.error';

/** XAUTOCLAIM arrived in Redis 6.2; the runtime cannot reclaim without it. */
export const MIN_REDIS_VERSION = '6.2.0';

/** `field:value` lines of one INFO section. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) {
      out.set(line.slice(0, at), line.slice(at + 1).trim());
    }
  }
  return out;
}

/** @throws StartupError when the server is older than 6.2. */
export async function checkRedisVersion(redis: RedisClient): Promise<string> {
  const info = parseInfo(await redis.info('server'));
  const version = info.get('redis_version') ?? '';
  const parsed = semver.coerce(version);
  if (!parsed || semver.lt(parsed, MIN_REDIS_VERSION)) {
    throw new StartupError(
      `Redis ${version || '(unknown version)'} is too old: printery-workers needs Redis >= ${MIN_REDIS_VERSION} (XAUTOCLAIM)`,
    );
  }
  return version;
}

export interface DurabilityReport {
  /** Undefined when CONFIG GET is not allowed (managed Redis). */
  maxmemoryPolicy: string | undefined;
  aof: boolean;
  rdb: boolean | undefined;
}

/** What the server says about eviction and persistence; never throws. */
export async function readDurability(redis: RedisClient): Promise<DurabilityReport> {
  const persistence = parseInfo(await redis.info('persistence').catch(() => ''));
  const configGet = async (name: string): Promise<string | undefined> => {
    try {
      const reply = (await redis.config('GET', name)) as string[];
      return reply[1];
    } catch {
      return undefined;
    }
  };
  const policy = await configGet('maxmemory-policy');
  const save = await configGet('save');
  return {
    maxmemoryPolicy: policy,
    aof: persistence.get('aof_enabled') === '1',
    rdb: save === undefined ? undefined : save.trim() !== '',
  };
}
