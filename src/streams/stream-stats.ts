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
