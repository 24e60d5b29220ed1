import calculateSlot from 'cluster-key-slot';
import type { AppConfig } from './app-config';
import type { ConfigProblem, ValueSource } from './config-problem';
import { DEFAULT_REDIS_URL, parseHostPort, type RedisConfig } from './redis-settings';

export type RedisTopologyKind = 'standalone' | 'sentinel' | 'cluster';

export interface HostPort {
  host: string;
  port: number;
}

/** The Redis deployment the service talks to, as the connection factory needs it. */
export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; master: string }
  | { kind: 'cluster'; nodes: HostPort[] };

/** Which topology the settings choose (SPEC §2): Cluster or Sentinel when their nodes are given. */
export function redisTopologyKind(redis: RedisConfig): RedisTopologyKind {
  if (redis.clusterNodes.length > 0) {
    return 'cluster';
  }
  return redis.sentinels.length > 0 ? 'sentinel' : 'standalone';
}

function hostPorts(list: readonly string[]): HostPort[] {
  return list.flatMap((item) => parseHostPort(item) ?? []);
}

export function redisTopology(redis: RedisConfig): RedisTopology {
  switch (redisTopologyKind(redis)) {
    case 'cluster':
      return { kind: 'cluster', nodes: hostPorts(redis.clusterNodes) };
    case 'sentinel':
      return {
        kind: 'sentinel',
        sentinels: hostPorts(redis.sentinels),
        master: redis.sentinelMaster ?? '',
      };
    case 'standalone':
      return { kind: 'standalone', url: redis.url };
  }
}

/**
 * How logs, `status` and errors name the topology, without credentials:
 * `redis://localhost:6379` is shown by the caller (it needs redacting).
 */
export function describeRedisTopology(topology: RedisTopology, shownUrl: string): string {
  const list = (nodes: HostPort[]): string =>
    nodes
      .map((node) => `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`)
      .join(',');
  switch (topology.kind) {
    case 'cluster':
      return `Redis Cluster (seeds ${list(topology.nodes)})`;
    case 'sentinel':
      return `Redis Sentinel master "${topology.master}" (sentinels ${list(topology.sentinels)})`;
    case 'standalone':
      return `Redis at ${shownUrl}`;
  }
}

/**
 * The hash tag Redis Cluster hashes a key by (the text between the first `{`
 * and the first `}` after it, when not empty), or undefined.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/**
 * Whether every key built as `${prefix}:…` lands on one slot, whatever
 * follows the prefix: true exactly when the prefix's own hash tag decides
 * the slot. Computed as Redis does (cluster-key-slot, ioredis's own helper).
 */
export function prefixPinsSlot(prefix: string): boolean {
  return (
    hashTagOf(prefix) !== undefined &&
    calculateSlot(`${prefix}:deployment:started`) === calculateSlot(`${prefix}:dead-letter`)
  );
}

const TOPOLOGIES =
  'one Redis topology: REDIS_URL (standalone), REDIS_SENTINELS with REDIS_SENTINEL_MASTER (Sentinel), or REDIS_CLUSTER_NODES (Cluster)';

/** The operator chose REDIS_URL: a flag, the environment, or a file with another URL than the default. */
function urlChosen(config: AppConfig, source: ValueSource | undefined): boolean {
  if (!source || source.from === 'default') {
    return false;
  }
  return source.from !== 'file' || config.redis.url !== DEFAULT_REDIS_URL;
}

/** How a problem names a setting: the flag or variable it came from, else its variable. */
function nameOf(source: ValueSource | undefined, env: string): string {
  return source && source.from !== 'default' && source.from !== 'file' ? source.name : env;
}

/** Problems between the topology settings (SPEC §2), each valid alone. */
export function redisTopologyProblems(
  config: AppConfig,
  sources: Record<string, ValueSource>,
): ConfigProblem[] {
  const { redis } = config;
  const problems: ConfigProblem[] = [];
  const sentinels = nameOf(sources['redis.sentinels'], 'REDIS_SENTINELS');
  const cluster = nameOf(sources['redis.clusterNodes'], 'REDIS_CLUSTER_NODES');
  const master = nameOf(sources['redis.sentinelMaster'], 'REDIS_SENTINEL_MASTER');
  const inSentinel = redis.sentinels.length > 0;
  const inCluster = redis.clusterNodes.length > 0;
  if (inSentinel && inCluster) {
    problems.push({
      settings: ['redis'],
      text: `${cluster}: set together with ${sentinels}; expected ${TOPOLOGIES}`,
    });
  }
  if ((inSentinel || inCluster) && urlChosen(config, sources['redis.url'])) {
    problems.push({
      settings: ['redis'],
      text: `${nameOf(sources['redis.url'], 'REDIS_URL')}: set together with ${inCluster ? cluster : sentinels}; expected ${TOPOLOGIES} (give the data nodes' credentials with REDIS_USERNAME and REDIS_PASSWORD)`,
    });
  }
  if (inSentinel && redis.sentinelMaster === undefined) {
    problems.push({
      settings: ['redis'],
      text: `REDIS_SENTINEL_MASTER: not set although ${sentinels} is; expected the master name the sentinels monitor (sentinel monitor <name> …), e.g. mymaster`,
    });
  }
  if (!inSentinel && (redis.sentinelMaster !== undefined || redis.sentinelPassword !== undefined)) {
    const given = redis.sentinelMaster !== undefined ? master : 'REDIS_SENTINEL_PASSWORD';
    problems.push({
      settings: ['redis'],
      text: `${given}: set without REDIS_SENTINELS; expected the sentinels' host:port list beside it (Sentinel mode), or neither`,
    });
  }
  if (!inSentinel && !inCluster && redis.tls && !redis.url.startsWith('rediss:')) {
    problems.push({
      settings: ['redis'],
      text: `REDIS_TLS: true for a standalone Redis; expected rediss:// in REDIS_URL for TLS to one Redis (REDIS_TLS applies to Sentinel and Cluster)`,
    });
  }
  if (inCluster && !prefixPinsSlot(config.streams.prefix)) {
    problems.push({
      settings: ['redis', 'streams.prefix'],
      text: `STREAM_PREFIX: ${JSON.stringify(config.streams.prefix)} has no hash tag; in Cluster mode (${cluster}) expected a prefix with one, e.g. {materi:events:deployment}, so that every key one MULTI or script touches shares a hash slot`,
    });
  }
  return problems;
}
