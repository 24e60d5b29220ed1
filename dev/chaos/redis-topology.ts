import Redis, { Cluster } from 'ioredis';
import type { RedisClient } from '../../src/redis/connection-factory';
import { askNode } from '../redis-admin';
import { RedisCluster } from '../redis-cluster';
import { RedisSentinel } from '../redis-sentinel';
import { RedisServer } from '../redis-server';
import { killClientsOf, pauseNodes } from './node-faults';

export const TOPOLOGIES = ['standalone', 'sentinel', 'cluster'] as const;
export type TopologyKind = (typeof TOPOLOGIES)[number];

export interface ClientOptions {
  /**
   * `false` for the producer: a command in flight when the connection drops
   * is not sent again behind its back (ioredis then never settles it; the
   * producer times it out and counts a retry).
   */
  resend?: boolean;
}

/**
 * The Redis a chaos run stands on, and the Redis-side faults it can inject.
 * Each topology implements these; the soak itself does not know which runs.
 */
export interface ChaosRedis {
  readonly kind: TopologyKind;
  /** Variables that point a service process at it. */
  serviceEnv(): NodeJS.ProcessEnv;
  /** A client for the producer, the faults and the history; the caller disconnects it. */
  client(name: string, options?: ClientOptions): RedisClient;
  /**
   * A graceful restart of the node(s) holding the streams, data kept:
   * standalone, a stop and start with AOF; Sentinel and Cluster, the master
   * stops (after its replica caught up), the replica takes over, and the old
   * master comes back as its replica.
   */
  restart(streamKey: string): Promise<string>;
  /** CLIENT PAUSE on every data node. */
  pause(ms: number): Promise<void>;
  /** CLIENT KILL of the service process `pid`'s connections, on every node. Returns how many. */
  killConnections(pid: number): Promise<number>;
  dispose(): Promise<void>;
}

function quiet<T extends RedisClient>(client: T): T {
  // Faults drop connections on purpose; ioredis reconnects by itself.
  client.on('error', () => undefined);
  return client;
}

function redisOptions(name: string, options: ClientOptions) {
  return {
    connectionName: name,
    maxRetriesPerRequest: 3,
    autoResendUnfulfilledCommands: options.resend ?? true,
  };
}

/** One redis-server with AOF, every write fsynced: a restart loses nothing acknowledged. */
class StandaloneRedis implements ChaosRedis {
  readonly kind = 'standalone' as const;

  constructor(private readonly server: RedisServer) {}

  serviceEnv(): NodeJS.ProcessEnv {
    return { REDIS_URL: this.server.url };
  }

  client(name: string, options: ClientOptions = {}): RedisClient {
    return quiet(new Redis(this.server.url, redisOptions(name, options)));
  }

  async restart(): Promise<string> {
    await this.server.restart();
    return 'graceful stop and start, AOF kept';
  }

  pause(ms: number): Promise<void> {
    return pauseNodes([this.server.port], ms);
  }

  killConnections(pid: number): Promise<number> {
    return killClientsOf([this.server.port], pid);
  }

  dispose(): Promise<void> {
    return this.server.dispose();
  }
}

/** A master, a replica and three sentinels (dev/redis-sentinel.ts). */
class SentinelRedis implements ChaosRedis {
  readonly kind = 'sentinel' as const;

  constructor(private readonly deployment: RedisSentinel) {}

  serviceEnv(): NodeJS.ProcessEnv {
    return {
      REDIS_SENTINELS: this.deployment.sentinels,
      REDIS_SENTINEL_MASTER: this.deployment.masterName,
    };
  }

  client(name: string, options: ClientOptions = {}): RedisClient {
    return quiet(
      new Redis({
        sentinels: this.deployment.sentinelServers.map((s) => ({
          host: '127.0.0.1',
          port: s.port,
        })),
        name: this.deployment.masterName,
        ...redisOptions(name, options),
      }),
    );
  }

  async restart(): Promise<string> {
    const old = this.deployment.master.port;
    const now = await this.deployment.restartMaster();
    return `master ${old} stopped, replica ${now.port} promoted, ${old} back as its replica`;
  }

  pause(ms: number): Promise<void> {
    return pauseNodes([this.deployment.master.port], ms);
  }

  killConnections(pid: number): Promise<number> {
    return killClientsOf(
      [...this.deployment.dataNodes, ...this.deployment.sentinelServers].map((s) => s.port),
      pid,
    );
  }

  dispose(): Promise<void> {
    return this.deployment.stop();
  }
}

/** Three masters with a replica each (dev/redis-cluster.ts). */
class ClusterRedis implements ChaosRedis {
  readonly kind = 'cluster' as const;

  constructor(private readonly cluster: RedisCluster) {}

  serviceEnv(): NodeJS.ProcessEnv {
    return { REDIS_CLUSTER_NODES: this.cluster.seeds };
  }

  client(name: string, options: ClientOptions = {}): RedisClient {
    return quiet(
      new Cluster(
        this.cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
        { redisOptions: redisOptions(name, options) },
      ),
    );
  }

  async restart(streamKey: string): Promise<string> {
    const { master, replica } = await this.cluster.shardOf(streamKey);
    if (!replica) {
      throw new Error(`the master on port ${master.port} has no live replica to take over`);
    }
    // SIGTERM: the master waits for its replica to catch up, so nothing acknowledged is lost.
    await master.stop();
    await this.cluster.waitHealthy();
    await this.cluster.revive(master);
    return `master ${master.port} stopped, replica ${replica.port} took its slots, ${master.port} back as its replica`;
  }

  async pause(ms: number): Promise<void> {
    const roles = await Promise.all(
      this.cluster.live.map(async (node) => ((await askNode(node.port, 'ROLE')) as unknown[])[0]),
    );
    await pauseNodes(
      this.cluster.live.filter((_, i) => roles[i] === 'master').map((node) => node.port),
      ms,
    );
  }

  killConnections(pid: number): Promise<number> {
    return killClientsOf(
      this.cluster.live.map((node) => node.port),
      pid,
    );
  }

  dispose(): Promise<void> {
    return this.cluster.stop();
  }
}

/** Every write to disk at once, so a restart loses nothing acknowledged. */
const DURABLE = ['--appendonly', 'yes', '--appendfsync', 'always'];

export async function startChaosRedis(kind: TopologyKind): Promise<ChaosRedis> {
  switch (kind) {
    case 'standalone':
      return new StandaloneRedis(await RedisServer.start({ args: DURABLE }));
    case 'sentinel':
      // down-after above the longest CLIENT PAUSE (3 s): a pause is not a failover.
      return new SentinelRedis(await RedisSentinel.start({ downAfterMs: 4000 }));
    case 'cluster':
      return new ClusterRedis(await RedisCluster.start());
  }
}
