import Redis from 'ioredis';
import { askNode, infoField, waitFor } from './redis-admin';
import { RedisServer } from './redis-server';

const SENTINELS = 3;

export interface RedisSentinelOptions {
  /** The monitored master's name (default `printery`): REDIS_SENTINEL_MASTER. */
  masterName?: string;
  /** `down-after-milliseconds` (default 1000): how long the master may be silent before a failover. */
  downAfterMs?: number;
}

/** SENTINEL MASTER's flat [field, value, …] reply as a map. */
function fields(reply: unknown): Map<string, string> {
  const list = Array.isArray(reply) ? reply.map(String) : [];
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) {
    map.set(list[i] as string, list[i + 1] as string);
  }
  return map;
}

/**
 * A real Sentinel deployment on loopback: one master, one replica
 * (`--replicaof`) and three sentinels (quorum 2), each a redis-server
 * (dev/redis-server.ts) with its own folder; every sentinel has its own
 * config file there, which it rewrites as it learns the topology.
 * The fault a failover test needs: `kill9Master()`, which waits until the
 * sentinels have promoted the replica.
 *
 * Every process runs as a child of this process and is killed by pid in `stop()`.
 */
export class RedisSentinel {
  private constructor(
    readonly masterName: string,
    /** The current master: the replica once `kill9Master()` has promoted it. */
    public master: RedisServer,
    /** The current replica; undefined after a failover (the old master is dead). */
    public replica: RedisServer | undefined,
    readonly sentinelServers: RedisServer[],
    private readonly dead: RedisServer[] = [],
  ) {}

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
    const name = options.masterName ?? 'printery';
    const downAfterMs = options.downAfterMs ?? 1000;
    const started: RedisServer[] = [];
    try {
      const master = await RedisServer.start();
      started.push(master);
      const replica = await RedisServer.start({
        args: ['--replicaof', '127.0.0.1', String(master.port)],
      });
      started.push(replica);
      // `sentinel monitor` first: the other lines refer to the name it declares.
      const config = [
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${downAfterMs * 3}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n');
      const sentinels: RedisServer[] = [];
      for (let i = 0; i < SENTINELS; i++) {
        const sentinel = await RedisServer.start({ sentinel: true, config });
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const deployment = new RedisSentinel(name, master, replica, sentinels);
      await waitFor(
        () => deployment.settled(master, replica),
        'the sentinels did not find each other and the replica',
      );
      return deployment;
    } catch (error) {
      await Promise.all(started.map((server) => server.dispose()));
      throw error;
    }
  }

  /** `host:port` of every sentinel, comma-separated: a REDIS_SENTINELS value. */
  get sentinels(): string {
    return this.sentinelServers.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',');
  }

  /** A client for assertions that follows the sentinels to the master; the caller quits it. */
  client(): Redis {
    return new Redis({
      sentinels: this.sentinelServers.map((sentinel) => ({
        host: '127.0.0.1',
        port: sentinel.port,
      })),
      name: this.masterName,
      maxRetriesPerRequest: 3,
    });
  }

  /**
   * `kill -9` of the master, then waits (bounded) until every sentinel names
   * the replica as master and the replica says it is one. Returns the new master.
   */
  async kill9Master(): Promise<RedisServer> {
    const { master: old, replica } = this;
    if (!replica) {
      throw new Error('no replica left to promote');
    }
    await old.kill();
    this.dead.push(old);
    await waitFor(
      () => this.promoted(replica),
      `the sentinels did not promote the replica on port ${replica.port}`,
    );
    this.master = replica;
    this.replica = undefined;
    return replica;
  }

  /**
   * A graceful restart of the master, as an operator's rolling restart:
   * SIGTERM (Redis waits for the replica to catch up before it exits, so no
   * acknowledged write is lost), the sentinels promote the replica, then the
   * old master starts again on its address and the sentinels make it the new
   * master's replica. Resolves once the link is up; returns the new master.
   */
  async restartMaster(): Promise<RedisServer> {
    const { master: old, replica } = this;
    if (!replica) {
      throw new Error('no replica left to promote');
    }
    await old.stop();
    await waitFor(
      () => this.promoted(replica),
      `the sentinels did not promote the replica on port ${replica.port}`,
    );
    await old.start();
    // The sentinels notice the old master on their next INFO of it (every 10 s for a replica).
    await waitFor(
      () => this.settled(replica, old),
      `the sentinels did not make port ${old.port} a replica of port ${replica.port}`,
    );
    this.master = replica;
    this.replica = old;
    return replica;
  }

  /** The data nodes (master and replica) that run. */
  get dataNodes(): RedisServer[] {
    return [this.master, this.replica].filter(
      (server): server is RedisServer => server?.pid !== undefined,
    );
  }

  /** Kills every process by pid and removes their folders. */
  async stop(): Promise<void> {
    const all = [this.master, this.replica, ...this.sentinelServers, ...this.dead];
    await Promise.all(
      all.filter((server): server is RedisServer => server !== undefined).map((s) => s.dispose()),
    );
  }

  /** Every sentinel monitors `master`, sees `replica` and the two other sentinels; the link is up. */
  private async settled(master: RedisServer, replica: RedisServer): Promise<boolean> {
    const replication = String(await askNode(replica.port, 'INFO', 'replication'));
    if (infoField(replication, 'master_link_status') !== 'up') {
      return false;
    }
    for (const sentinel of this.sentinelServers) {
      const state = fields(await askNode(sentinel.port, 'SENTINEL', 'MASTER', this.masterName));
      if (
        state.get('port') !== String(master.port) ||
        state.get('flags') !== 'master' ||
        state.get('num-slaves') !== '1' ||
        state.get('num-other-sentinels') !== String(SENTINELS - 1)
      ) {
        return false;
      }
    }
    return true;
  }

  private async promoted(replica: RedisServer): Promise<boolean> {
    const role = (await askNode(replica.port, 'ROLE')) as unknown[];
    if (role[0] !== 'master') {
      return false;
    }
    for (const sentinel of this.sentinelServers) {
      const address = (await askNode(
        sentinel.port,
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        this.masterName,
      )) as unknown[];
      if (String(address[1]) !== String(replica.port)) {
        return false;
      }
    }
    return true;
  }
}
