import type Redis from 'ioredis';
import type { StreamTopology } from './topology';

export interface GroupStats {
  stream: string;
  group: string;
  worker: string;
  length: number;
  /** Delivered, not yet acknowledged. */
  pending: number;
  /** Not yet delivered to the group; null when Redis cannot tell (trimmed stream). */
  lag: number | null;
  consumers: number;
  exists: boolean;
}

/**
 * Reads length, pending and lag of every worker's (stream, group) pair in one
 * pipeline. Used by /status, the stream gauges and `printery-workers status`.
 */
export async function readGroupStats(
  redis: Redis,
  topology: StreamTopology,
): Promise<GroupStats[]> {
  const pairs = topology.allReads();
  const streams = [...new Set(pairs.map((pair) => pair.stream))];
  const pipeline = redis.pipeline();
  for (const stream of streams) {
    pipeline.xlen(stream);
    pipeline.xinfo('GROUPS', stream);
  }
  const replies = (await pipeline.exec()) ?? [];
  const byStream = new Map<
    string,
    { length: number; groups: Map<string, Record<string, unknown>> }
  >();
  streams.forEach((stream, index) => {
    const [lenErr, length] = replies[index * 2] ?? [];
    const [groupsErr, groups] = replies[index * 2 + 1] ?? [];
    const groupMap = new Map<string, Record<string, unknown>>();
    if (!groupsErr && Array.isArray(groups)) {
      for (const raw of groups as unknown[][]) {
        const info = toRecord(raw);
        groupMap.set(String(info.name), info);
      }
    }
    byStream.set(stream, { length: lenErr ? 0 : Number(length ?? 0), groups: groupMap });
  });
  return pairs.map((pair) => {
    const entry = byStream.get(pair.stream);
    const info = entry?.groups.get(pair.group);
    const lag = info?.lag;
    return {
      stream: pair.stream,
      group: pair.group,
      worker: pair.worker,
      length: entry?.length ?? 0,
      pending: Number(info?.pending ?? 0),
      lag: info ? (lag === null || lag === undefined ? null : Number(lag)) : null,
      consumers: Number(info?.consumers ?? 0),
      exists: info !== undefined,
    };
  });
}

/** XINFO replies are flat [key, value, key, value…] arrays. */
export function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out[String(flat[i])] = flat[i + 1];
  }
  return out;
}

export interface ConsumerStats {
  name: string;
  /** Entries delivered to this consumer and not yet acknowledged. */
  pending: number;
  /** Milliseconds since the consumer last read or claimed (XINFO CONSUMERS `idle`). */
  idleMs: number;
}

export interface GroupDetails extends GroupStats {
  consumerList: ConsumerStats[];
  /** Id of the oldest unacknowledged entry, or null when nothing is pending. */
  oldestPendingId: string | null;
  /** How long ago (Redis clock) the oldest pending entry was added; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

/**
 * readGroupStats plus what an operator needs to find a stuck consumer: each
 * consumer's idle time and pending count (XINFO CONSUMERS) and the age of the
 * oldest pending entry (XPENDING summary). Ages use Redis's clock (TIME), the
 * one entry ids are made from, so a skewed client clock cannot distort them.
 */
export async function readGroupDetails(
  redis: Redis,
  topology: StreamTopology,
): Promise<GroupDetails[]> {
  const stats = await readGroupStats(redis, topology);
  const existing = stats.filter((stat) => stat.exists);
  const pipeline = redis.pipeline();
  pipeline.time();
  for (const stat of existing) {
    pipeline.xinfo('CONSUMERS', stat.stream, stat.group);
    pipeline.xpending(stat.stream, stat.group);
  }
  const replies = (await pipeline.exec()) ?? [];
  const [timeErr, time] = replies[0] ?? [];
  const nowMs =
    !timeErr && Array.isArray(time)
      ? Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
      : Date.now();
  const details = new Map<GroupStats, Omit<GroupDetails, keyof GroupStats>>();
  existing.forEach((stat, index) => {
    const [consumersErr, consumers] = replies[1 + index * 2] ?? [];
    const [pendingErr, pending] = replies[2 + index * 2] ?? [];
    const consumerList: ConsumerStats[] =
      !consumersErr && Array.isArray(consumers)
        ? (consumers as unknown[][]).map((raw) => {
            const info = toRecord(raw);
            return {
              name: String(info.name),
              pending: Number(info.pending ?? 0),
              idleMs: Number(info.idle ?? 0),
            };
          })
        : [];
    const oldest =
      !pendingErr && Array.isArray(pending) && typeof pending[1] === 'string' ? pending[1] : null;
    details.set(stat, {
      consumerList,
      oldestPendingId: oldest,
      oldestPendingAgeMs: oldest ? Math.max(0, nowMs - Number(oldest.split('-')[0])) : null,
    });
  });
  return stats.map((stat) => ({
    ...stat,
    ...(details.get(stat) ?? { consumerList: [], oldestPendingId: null, oldestPendingAgeMs: null }),
  }));
}
