import type Redis from 'ioredis';
import type { StreamGroup } from './topology';
import { isBusyGroupError } from './redis-wait';

/**
 * Creates each (stream, group) pair with MKSTREAM at `startId`; an existing
 * group (BUSYGROUP) is left as it is. Returns the pairs actually created.
 */
export async function ensureGroups(
  redis: Redis,
  pairs: readonly StreamGroup[],
  startId: string,
): Promise<StreamGroup[]> {
  const created: StreamGroup[] = [];
  for (const pair of pairs) {
    try {
      await redis.xgroup('CREATE', pair.stream, pair.group, startId, 'MKSTREAM');
      created.push(pair);
    } catch (error) {
      if (!isBusyGroupError(error)) {
        throw error;
      }
    }
  }
  return created;
}
