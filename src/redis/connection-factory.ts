import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/redis-settings';
import { redisTopology } from '../config/redis-topology';
import { reviveAfterUnplannedEnd } from './sentinel-revive';

/** How long one question to a sentinel (which master?) may take. */
const SENTINEL_COMMAND_TIMEOUT_MS = 2_000;

/**
 * A client of whichever topology the settings choose (SPEC §2): a plain
 * connection (standalone, or Sentinel, which finds the master itself) or a
 * Cluster client, which keeps one connection per node and follows
 * MOVED/ASK itself. Both speak the same commands.
 */
export type RedisClient = Redis | Cluster;

/**
 * The URL without the user or password that REDIS_USERNAME / REDIS_PASSWORD
 * replace: ioredis lets a URL's credentials win over its options, and SPEC
 * §2 wants the variables to win.
 */
function urlForOptions(url: string, config: RedisConfig): string {
  if (config.username === undefined && config.password === undefined) {
    return url;
  }
  const parsed = new URL(url);
  if (config.password !== undefined) {
    parsed.password = '';
  }
  if (config.username !== undefined) {
    parsed.username = '';
  }
  return parsed.toString();
}

/** How long a failing-over Cluster gets before a command gives up (ioredis delay queues). */
const CLUSTER_OPTIONS: ClusterOptions = {
  // Every command goes to the master of its slot: a replica may lag behind.
  scaleReads: 'master',
  // Each redirection or retry spends one of these; with the delays below a
  // command rides out roughly 16 × 300 ms of failover before it fails.
  maxRedirections: 16,
  retryDelayOnFailover: 300,
  retryDelayOnClusterDown: 300,
  retryDelayOnTryAgain: 300,
  retryDelayOnMoved: 0,
  slotsRefreshTimeout: 2000,
  // Learn a failover even when nothing is sent to the old master (a worker
  // waiting to identify its read, an idle shared client).
  slotsRefreshInterval: 5000,
  enableReadyCheck: true,
};

/**
 * One connection (or Cluster client) of the configured topology with
 * `options` (connection name, reconnect strategy, queueing). The one place a
 * client is made, so every part of the service (runtime, health, status, the
 * CLI) talks to the same Redis in the same way. The embedded dev Redis is
 * standalone and goes through here with its URL.
 */
export function createRedisClient(config: RedisConfig, options: RedisOptions): RedisClient {
  const topology = redisTopology(config);
  const credentials: RedisOptions = {
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
  };
  const tls: RedisOptions = config.tls ? { tls: {} } : {};
  switch (topology.kind) {
    case 'standalone':
      return new Redis(urlForOptions(topology.url, config), { ...options, ...credentials });
    case 'sentinel': {
      const client = new Redis({
        ...options,
        ...credentials,
        ...tls,
        sentinels: topology.sentinels,
        name: topology.master,
        role: 'master',
        sentinelPassword: config.sentinelPassword,
        // Reconnect as soon as a sentinel announces +switch-master, rather than
        // when the old master's socket finally times out.
        failoverDetector: true,
        enableTLSForSentinelMode: config.tls,
        ...(config.tls ? { sentinelTLS: {} } : {}),
        // The sentinels are retried like the connection itself: forever for
        // the service, once for a one-shot command.
        sentinelRetryStrategy: (times) => options.retryStrategy?.(times) ?? null,
        // A sentinel that accepts the connection and never answers is given
        // up on, and the next one asked, instead of holding the connect for good.
        sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
      });
      if (options.retryStrategy) {
        reviveAfterUnplannedEnd(client, options.retryStrategy);
      }
      return client;
    }
    case 'cluster': {
      const { retryStrategy, lazyConnect, enableOfflineQueue, ...nodeOptions } = options;
      return new Cluster(topology.nodes, {
        ...CLUSTER_OPTIONS,
        lazyConnect,
        enableOfflineQueue,
        // Called when every node is lost; a lost node alone is found again through slots.
        clusterRetryStrategy: (times) => retryStrategy?.(times) ?? null,
        redisOptions: { ...nodeOptions, ...credentials, ...tls },
      });
    }
  }
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** `host:port` of a node connection, as ioredis keys its nodes and CLUSTER SLOTS names them. */
export function nodeKey(node: Redis): string {
  const { host = 'localhost', port = 6379 } = node.options;
  return `${host}:${port}`;
}
