import type { RedisConfig } from '../config/redis-settings';
import { redisTopologyKind } from '../config/redis-topology';
import { StartupError } from '../errors';
import type { RedisClient } from './connection-factory';

const AUTH_ERROR = /WRONGPASS|NOAUTH|NOPERM|invalid username-password/i;
/** SELECT's refusal of a db the server does not have ("ERR DB index is out of range"; older: "invalid DB index"). */
const NO_SUCH_DB = /\bDB index\b/i;

/** Redis refused the credentials (or the user's rights): retrying cannot fix that. */
export function isAuthError(message: string): boolean {
  return AUTH_ERROR.test(message);
}

/**
 * An auth refusal in an operator's words, naming what to change. `url` is
 * already free of its password; `cause` is Redis's own reply, kept at the end.
 */
export function describeAuthError(url: string, cause: string, fromUrl = true): string {
  if (!fromUrl && !/NOPERM/i.test(cause)) {
    // Sentinel and Cluster take the data nodes' credentials from the variables only.
    return `${url} refused the user name or password, or wants one: set REDIS_USERNAME and REDIS_PASSWORD (REDIS_SENTINEL_PASSWORD for the sentinels themselves) (${cause})`;
  }
  if (/NOAUTH/i.test(cause)) {
    return `Redis at ${url} requires a password and REDIS_URL gives none; write it before the host, as :PASSWORD@host:port (USER:PASSWORD@host:port for an ACL user) (${cause})`;
  }
  if (/NOPERM/i.test(cause)) {
    return `Redis at ${url} accepted the credentials but the user may not run the commands printery-workers needs (streams, hashes, INFO); grant them in the Redis ACL (${cause})`;
  }
  return `Redis at ${url} refused the user name or password in REDIS_URL (${cause})`;
}

/** The db number a redis:// URL names (`/3`), 0 when it names none. */
export function dbOf(url: string): number {
  try {
    const db = new URL(url).pathname.replace(/^\//, '');
    return db === '' ? 0 : Number(db);
  } catch {
    return 0;
  }
}

/**
 * ioredis sends SELECT for the URL's db on connect and, when the server has
 * no such db, carries on in db 0 without a word: the service would then read
 * and write another database than the one configured. So the SELECT is
 * repeated here, where its refusal can stop the command.
 *
 * @throws StartupError naming the db when the server refuses it; any other
 *   failure of the SELECT (a connection lost meanwhile) as it came.
 */
export async function checkSelectedDb(
  redis: RedisClient,
  config: RedisConfig,
  shownUrl: string,
): Promise<void> {
  // A Cluster has db 0 only; Sentinel mode takes no URL, so no db either.
  const db = redisTopologyKind(config) === 'standalone' ? dbOf(config.url) : 0;
  if (db === 0) {
    return;
  }
  try {
    await redis.select(db);
  } catch (error) {
    if (!NO_SUCH_DB.test((error as Error).message)) {
      // Not a refusal (the connection dropped, say): the start-up connect retries it.
      throw error;
    }
    throw new StartupError(
      `Redis at ${shownUrl} has no database ${db} (the db number in REDIS_URL): ${(error as Error).message}; use a db below the server's "databases" setting (16 by default)`,
      { cause: error },
    );
  }
}
