import type { AppConfig } from '../config';
import {
  describeRedisTopology,
  redisTopology,
  type RedisTopologyKind,
  redisTopologyKind,
} from '../config/redis-topology';
import { redactText } from '../logging/redact';
import { slotOwnerKey } from '../redis/cluster-nodes';
import { isCluster } from '../redis/connection-factory';
import { type GroupDetails, readGroupDetails } from '../streams/stream-stats';
import { EVENT_TYPES } from '../streams/topology';
import { fetchInstance, type InstanceStatus } from './instance-status';
import { topologyOf, withRedis } from './one-shot';
import { formatAge } from './output';
import { registryEnvironments } from './registry-keys';

export type StatusGroup = Omit<GroupDetails, 'consumerList'> & {
  consumerList: Array<GroupDetails['consumerList'][number] & { stuck: boolean }>;
};

/** What `status --json` prints. */
export interface StatusReport {
  /** The URL (standalone, password removed), or the sentinels or seed nodes. */
  redis: string;
  /** Which topology `status` talked to (SPEC §2). */
  topology: RedisTopologyKind;
  /** Cluster mode: `host:port` of the master that owns the pipeline's slot. */
  slotOwner?: string;
  streamPrefix: string;
  groups: StatusGroup[];
  deadLetters: { stream: string; count: number };
  registry: Array<{ environment: string; key: string; services: number }>;
  instance?: InstanceStatus;
  /** One line per thing an operator should look at; non-empty means exit 1. */
  attention: string[];
}

export interface StatusBounds {
  /** Idle time of a consumer with pending entries before it counts as stuck. */
  idleBoundMs: number;
  /** Undelivered entries of a group before it needs attention. */
  maxLag: number;
}

/** Reads everything `status` shows from Redis (and the instance, when there is a URL). */
export async function collectStatus(
  config: AppConfig,
  bounds: StatusBounds,
  instanceUrl: { url: string; given: boolean } | undefined,
): Promise<StatusReport> {
  const topology = topologyOf(config);
  const [fromRedis, instance] = await Promise.all([
    withRedis(config, 'status', async (redis) => {
      const groups = await readGroupDetails(redis, topology);
      const deadLetterCount = await redis.xlen(topology.deadLetterStream);
      const environments = await registryEnvironments(redis, topology);
      const sizes = await Promise.all(environments.map((env) => redis.hlen(env.key)));
      return {
        slotOwner: isCluster(redis) ? slotOwnerKey(redis, topology.deadLetterStream) : undefined,
        groups,
        deadLetterCount,
        registry: environments.map((env, i) => ({ ...env, services: sizes[i] ?? 0 })),
      };
    }),
    instanceUrl === undefined
      ? Promise.resolve(undefined)
      : fetchInstance(
          instanceUrl.url,
          instanceUrl.given,
          topology.stream(EVENT_TYPES.deploymentStarted),
        ),
  ]);
  const groups = fromRedis.groups.map((group) => ({
    ...group,
    consumerList: group.consumerList.map((consumer) => ({
      ...consumer,
      stuck: consumer.pending > 0 && consumer.idleMs > bounds.idleBoundMs,
    })),
  }));
  const report: StatusReport = {
    redis:
      redisTopologyKind(config.redis) === 'standalone'
        ? redactText(config.redis.url)
        : describeRedisTopology(redisTopology(config.redis), ''),
    topology: redisTopologyKind(config.redis),
    ...(fromRedis.slotOwner ? { slotOwner: fromRedis.slotOwner } : {}),
    streamPrefix: config.streams.prefix,
    groups,
    deadLetters: { stream: topology.deadLetterStream, count: fromRedis.deadLetterCount },
    registry: fromRedis.registry,
    ...(instance ? { instance } : {}),
    attention: [],
  };
  report.attention = attentionOf(report, bounds);
  return report;
}

/**
 * What needs an operator: a stream nobody reads (no group, or work waiting
 * and no consumer reading), a stuck consumer, lag over the bound, dead
 * letters, a failed worker. Nothing here counts as fine by absence.
 */
export function attentionOf(report: StatusReport, bounds: StatusBounds): string[] {
  const attention: string[] = [];
  const missing = report.groups.filter((group) => !group.exists);
  if (missing.length === report.groups.length && missing.length > 0) {
    attention.push(
      `no consumer group exists under ${report.streamPrefix}: no printery-workers service has run against this Redis with this STREAM_PREFIX, so nothing reads what is published`,
    );
  } else {
    for (const group of missing) {
      attention.push(
        `${group.group} on ${group.stream}: no consumer group, so the ${group.worker} worker reads nothing here`,
      );
    }
  }
  for (const group of report.groups.filter((g) => g.exists)) {
    for (const consumer of group.consumerList.filter((c) => c.stuck)) {
      attention.push(
        `consumer ${consumer.name} of ${group.group} on ${group.stream} idle ${formatAge(consumer.idleMs)} with ${consumer.pending} pending`,
      );
    }
    const reading = group.consumerList.some((c) => c.idleMs <= bounds.idleBoundMs);
    const waiting = group.lag ?? 0;
    if (waiting > 0 && !reading) {
      attention.push(
        `${group.group} on ${group.stream}: ${waiting} entr${waiting === 1 ? 'y' : 'ies'} waiting and no consumer reading (${group.consumerList.length === 0 ? 'none has ever attached' : `all idle over ${formatAge(bounds.idleBoundMs)}`}): is the ${group.worker} worker running?`,
      );
    } else if (group.lag !== null && group.lag > bounds.maxLag) {
      attention.push(
        `${group.group} on ${group.stream}: lag ${group.lag} above ${bounds.maxLag} (--max-lag)`,
      );
    }
  }
  if (report.deadLetters.count > 0) {
    attention.push(
      `${report.deadLetters.count} dead letter(s) in ${report.deadLetters.stream} (see: printery-workers dlq list)`,
    );
  }
  const instance = report.instance;
  if (instance && !instance.reachable && instance.given) {
    attention.push(`instance ${instance.url} not reachable: ${instance.error ?? 'no answer'}`);
  }
  if (instance?.reachable && instance.sameStreams !== false) {
    for (const worker of instance.workers) {
      if (worker.state === 'failed' || !worker.healthy) {
        attention.push(
          `worker ${worker.name} at ${instance.url} is ${worker.state}${worker.healthy ? '' : ' and unhealthy'}${worker.lastError ? `: ${worker.lastError}` : ''}`,
        );
      }
    }
  }
  return attention;
}
