import type { RedisClient } from '../redis/connection-factory';
import type { StreamGroup, StreamTopology } from './topology';

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

/** One reply of a pipeline: [error, result]. */
type Reply = [Error | null, unknown] | [];
type GroupInfo = Record<string, unknown>;

/** XINFO replies are flat [key, value, key, value…] arrays. */
export function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out[String(flat[i])] = flat[i + 1];
  }
  return out;
}

function lengthOf([error, length]: Reply): number {
  return error ? 0 : Number(length ?? 0);
}

/** XINFO GROUPS by group name; empty when the stream does not exist. */
function groupsOf([error, groups]: Reply): Map<string, GroupInfo> {
  const out = new Map<string, GroupInfo>();
  if (!error && Array.isArray(groups)) {
    for (const raw of groups as unknown[][]) {
      const info = toRecord(raw);
      out.set(String(info.name), info);
    }
  }
  return out;
}

function groupStats(pair: StreamGroup, length: number, info: GroupInfo | undefined): GroupStats {
  const lag = info?.lag;
  return {
    stream: pair.stream,
    group: pair.group,
    worker: pair.worker,
    length,
    pending: Number(info?.pending ?? 0),
    lag: info ? (lag === null || lag === undefined ? null : Number(lag)) : null,
    consumers: Number(info?.consumers ?? 0),
    exists: info !== undefined,
  };
}

/** Redis's clock (TIME), the one entry ids are made from; the local clock if TIME failed. */
function redisNowMs([error, time]: Reply): number {
  return !error && Array.isArray(time)
    ? Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
    : Date.now();
}

/** The oldest pending entry of an XPENDING summary and its age, or nulls when nothing is pending. */
function oldestPending(
  [error, summary]: Reply,
  nowMs: number,
): { oldestPendingId: string | null; oldestPendingAgeMs: number | null } {
  const oldest =
    !error && Array.isArray(summary) && typeof summary[1] === 'string' ? summary[1] : null;
  return {
    oldestPendingId: oldest,
    oldestPendingAgeMs: oldest ? Math.max(0, nowMs - Number(oldest.split('-')[0])) : null,
  };
}

/**
 * Reads length, pending and lag of every worker's (stream, group) pair in one
 * pipeline. Used by `printery-workers status`.
 */
export async function readGroupStats(
  redis: RedisClient,
  topology: StreamTopology,
): Promise<GroupStats[]> {
  const pairs = topology.allReads();
  const streams = [...new Set(pairs.map((pair) => pair.stream))];
  const pipeline = redis.pipeline();
  for (const stream of streams) {
    pipeline.xlen(stream);
    pipeline.xinfo('GROUPS', stream);
  }
  const replies = ((await pipeline.exec()) ?? []) as Reply[];
  const byStream = new Map(
    streams.map((stream, index) => [
      stream,
      {
        length: lengthOf(replies[index * 2] ?? []),
        groups: groupsOf(replies[index * 2 + 1] ?? []),
      },
    ]),
  );
  return pairs.map((pair) => {
    const entry = byStream.get(pair.stream);
    return groupStats(pair, entry?.length ?? 0, entry?.groups.get(pair.group));
  });
}

export interface GroupGauges extends GroupStats {
  /** How long ago (Redis clock) the oldest pending entry was added; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

/** What the stream gauges of /metrics and the streams of /status show. */
export interface StreamSnapshot {
  /** Length of every stream the service reads or writes (`StreamTopology.allStreams()`). */
  lengths: Array<{ stream: string; length: number }>;
  groups: GroupGauges[];
}

/**
 * Everything the stream gauges export, in one pipeline (one round trip per
 * scrape): TIME, XLEN of every stream, XINFO GROUPS of every read stream and
 * the XPENDING summary of every group.
 */
export async function readStreamSnapshot(
  redis: RedisClient,
  topology: StreamTopology,
): Promise<StreamSnapshot> {
  const pairs = topology.allReads();
  const streams = topology.allStreams();
  const readStreams = [...new Set(pairs.map((pair) => pair.stream))];
  const pipeline = redis.pipeline();
  pipeline.time();
  streams.forEach((stream) => pipeline.xlen(stream));
  readStreams.forEach((stream) => pipeline.xinfo('GROUPS', stream));
  pairs.forEach((pair) => pipeline.xpending(pair.stream, pair.group));
  const replies = ((await pipeline.exec()) ?? []) as Reply[];
  let cursor = 0;
  const next = (): Reply => replies[cursor++] ?? [];

  const nowMs = redisNowMs(next());
  const lengths = streams.map((stream) => ({ stream, length: lengthOf(next()) }));
  const lengthOfStream = new Map(lengths.map((entry) => [entry.stream, entry.length]));
  const groupsOfStream = new Map(readStreams.map((stream) => [stream, groupsOf(next())]));
  const groups = pairs.map((pair) => {
    const stats = groupStats(
      pair,
      lengthOfStream.get(pair.stream) ?? 0,
      groupsOfStream.get(pair.stream)?.get(pair.group),
    );
    return { ...stats, oldestPendingAgeMs: oldestPending(next(), nowMs).oldestPendingAgeMs };
  });
  return { lengths, groups };
}

export interface ConsumerStats {
  name: string;
  /** Entries delivered to this consumer and not yet acknowledged. */
  pending: number;
  /** Milliseconds since the consumer last read or claimed (XINFO CONSUMERS `idle`). */
  idleMs: number;
}

export interface GroupDetails extends GroupGauges {
  consumerList: ConsumerStats[];
  /** Id of the oldest unacknowledged entry, or null when nothing is pending. */
  oldestPendingId: string | null;
}

/**
 * readGroupStats plus what an operator needs to find a stuck consumer: each
 * consumer's idle time and pending count (XINFO CONSUMERS) and the age of the
 * oldest pending entry (XPENDING summary). Ages use Redis's clock (TIME), so
 * a skewed client clock cannot distort them.
 */
export async function readGroupDetails(
  redis: RedisClient,
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
  const replies = ((await pipeline.exec()) ?? []) as Reply[];
  const nowMs = redisNowMs(replies[0] ?? []);
  const details = new Map<GroupStats, Omit<GroupDetails, keyof GroupStats>>();
  existing.forEach((stat, index) => {
    const [consumersErr, consumers] = replies[1 + index * 2] ?? [];
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
    details.set(stat, { consumerList, ...oldestPending(replies[2 + index * 2] ?? [], nowMs) });
  });
  return stats.map((stat) => ({
    ...stat,
    ...(details.get(stat) ?? { consumerList: [], oldestPendingId: null, oldestPendingAgeMs: null }),
  }));
}
