import type { RedisClient } from '../redis/connection-factory';
import type { WorkerName } from '../config';
import { readGroupDetails } from '../streams/stream-stats';
import type { StreamTopology } from '../streams/topology';
import { formatAge } from './output';

/** The worker behind each stage `publish --wait` and `follow` wait for. */
const STAGE_WORKER: Record<string, WorkerName> = {
  validation: 'validator',
  dependencies: 'dependency',
  health: 'health',
  notification: 'notifier',
};

/**
 * Why nothing may be coming for `stage`, in an operator's words: its worker's
 * consumer group does not exist (nothing has ever run against this Redis
 * and prefix), or no consumer of it has read within `idleBoundMs`. Undefined
 * when someone is reading (the deployment is queued or slow, not orphaned).
 */
export async function nobodyReading(
  redis: RedisClient,
  topology: StreamTopology,
  stage: string,
  idleBoundMs: number,
): Promise<string | undefined> {
  const worker = STAGE_WORKER[stage];
  if (worker === undefined) {
    return undefined;
  }
  const groups = (await readGroupDetails(redis, topology)).filter((g) => g.worker === worker);
  const typeOf = (stream: string): string => stream.slice(topology.prefix.length + 1);
  const missing = groups.find((group) => !group.exists);
  if (missing) {
    return `no consumer group reads ${typeOf(missing.stream)} (${missing.group}): nothing is running against this Redis with STREAM_PREFIX ${topology.prefix}`;
  }
  const group = groups[0];
  if (!group || group.consumerList.some((consumer) => consumer.idleMs <= idleBoundMs)) {
    return undefined;
  }
  return `${group.group} has no consumer reading ${typeOf(group.stream)} (${group.consumerList.length === 0 ? 'none attached' : `all idle over ${formatAge(idleBoundMs)}`}): is the ${worker} worker running?`;
}
