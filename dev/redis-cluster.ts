import { execFile } from 'node:child_process';
import { Cluster } from 'ioredis';
import { askNode, infoField, waitFor } from './redis-admin';
import { freePort, RedisServer } from './redis-server';

const SLOTS = 16384;
const CREATE_TIMEOUT_MS = 30_000;

export interface RedisClusterOptions {
  /** Masters (default 3), each with one replica. */
  masters?: number;
  /**
   * `cluster-node-timeout` (default 1000 ms): how long a master may be
   * unreachable before its replica takes over.
   */
  nodeTimeoutMs?: number;
}

/** The master that owns a key's slot, and its replica (if one is alive). */
export interface Shard {
  slot: number;
  master: RedisServer;
  replica: RedisServer | undefined;
}

/** One line of CLUSTER NODES. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  /** The master's id for a replica, '-' for a master. */
  masterId: string;
  /** Owned slot ranges, inclusive. */
  slots: Array<[number, number]>;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', addr = '', flags = '', masterId = '', , , , , ...slots] = line
        .trim()
        .split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(addr)?.[1]),
        flags: flags.split(','),
        masterId,
        slots: slots
          // `[slot->-id]` marks a slot in migration, not an owned one.
          .filter((slot) => !slot.startsWith('['))
          .map((slot) => {
            const [from, to] = slot.split('-').map(Number);
            return [from ?? 0, to ?? from ?? 0];
          }),
      };
    });
}

/** Who is master of which slots and who replicates whom, as one node sees it. */
function viewOf(lines: NodeLine[]): string {
  const portOf = new Map(lines.map((line) => [line.id, line.port]));
  return lines
    .map((line) => {
      const role = line.flags.includes('master')
        ? 'master'
        : `replica-of-${portOf.get(line.masterId)}`;
      return `${line.port} ${role} ${line.slots.map(([from, to]) => `${from}-${to}`).join(',')}`;
    })
    .sort()
    .join('\n');
}

function failed(line: NodeLine): boolean {
  return line.flags.includes('fail') || line.flags.includes('fail?');
}

/**
 * A real Redis Cluster on loopback for tests and the bench: masters with one
 * replica each, every node a redis-server (dev/redis-server.ts) with its own
 * folder and `nodes.conf`, nothing persisted. The faults a failover test
 * needs: a manual `CLUSTER FAILOVER` on a replica, and a `kill -9` of a node.
 *
 * Every node runs as a child of this process and is killed by pid in `stop()`.
 */
export class RedisCluster {
  private constructor(
    /** Every node, in the order `redis-cli --cluster create` got them (masters first). */
    readonly nodes: RedisServer[],
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
    const nodes: RedisServer[] = [];
    const cluster = new RedisCluster(nodes);
    try {
      for (let i = 0; i < masters * 2; i++) {
        // The bus port is chosen too: the default (port + 10000) may be past 65535.
        const busPort = await freePort();
        nodes.push(
          await RedisServer.start({
            args: [
              '--cluster-enabled',
              'yes',
              // Relative to the node's own --dir: one file per node.
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-node-timeout',
              String(nodeTimeoutMs),
              '--cluster-port',
              String(busPort),
              // A replica takes over however long it has been cut off: tests kill on purpose.
              '--cluster-replica-validity-factor',
              '0',
            ],
          }),
        );
      }
      await createCluster(nodes.map((node) => `127.0.0.1:${node.port}`));
      await cluster.waitHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** `host:port` of every node, comma-separated: a REDIS_CLUSTER_NODES value. */
  get seeds(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  /** Nodes whose process runs (not killed). */
  get live(): RedisServer[] {
    return this.nodes.filter((node) => node.pid !== undefined);
  }

  /** A cluster client for assertions; the caller quits it. */
  client(): Cluster {
    return new Cluster(
      this.live.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
  }

  /** The master owning `key`'s slot (hash tags count) and its replica, as a live node sees them. */
  async shardOf(key: string): Promise<Shard> {
    const [witness] = this.live;
    if (!witness) {
      throw new Error('no live cluster node');
    }
    const slot = Number(await askNode(witness.port, 'CLUSTER', 'KEYSLOT', key));
    const lines = parseNodes(String(await askNode(witness.port, 'CLUSTER', 'NODES')));
    const owner = lines.find(
      (line) =>
        line.flags.includes('master') &&
        !failed(line) &&
        line.slots.some(([from, to]) => slot >= from && slot <= to),
    );
    const master = owner && this.byPort(owner.port);
    if (!owner || !master) {
      throw new Error(`no live master owns slot ${slot}`);
    }
    const replicaLine = lines.find((line) => line.masterId === owner.id && !failed(line));
    const replica = replicaLine && this.byPort(replicaLine.port);
    return { slot, master, replica: replica?.pid !== undefined ? replica : undefined };
  }

  /**
   * A manual failover (`CLUSTER FAILOVER` on `replica`): the replica waits for
   * its master's last writes, then takes its slots. Resolves once it is a
   * master and every live node agrees the cluster is whole.
   */
  async failover(replica: RedisServer): Promise<void> {
    await askNode(replica.port, 'CLUSTER', 'FAILOVER');
    await waitFor(async () => {
      const role = (await askNode(replica.port, 'ROLE')) as unknown[];
      return role[0] === 'master' && (await this.healthy());
    }, `node ${replica.port} did not become a master after CLUSTER FAILOVER`);
  }

  /**
   * `kill -9` of a node, as a crash: no wait. After a master's, its replica
   * takes over once `cluster-node-timeout` passes; `waitHealthy()` waits for it.
   */
  async kill9(node: RedisServer): Promise<void> {
    await node.kill();
  }

  /** Starts a killed node again on its address, with its nodes.conf: it rejoins as a replica. */
  async revive(node: RedisServer): Promise<void> {
    await node.start();
    await this.waitHealthy();
  }

  /**
   * Waits (bounded) until every live node says cluster_state:ok, every slot
   * is owned by a master no live node thinks failed, every killed node is
   * marked failed everywhere, every live replica has its master's data link
   * up, and all live nodes agree on who is master of what.
   */
  async waitHealthy(): Promise<void> {
    await waitFor(() => this.healthy(), 'the cluster did not settle');
  }

  /** Kills every node by pid and removes their folders. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.dispose()));
  }

  private async healthy(): Promise<boolean> {
    const deadPorts = new Set(
      this.nodes.filter((node) => node.pid === undefined).map((node) => node.port),
    );
    const views = new Set<string>();
    for (const node of this.live) {
      const info = String(await askNode(node.port, 'CLUSTER', 'INFO'));
      if (
        infoField(info, 'cluster_state') !== 'ok' ||
        Number(infoField(info, 'cluster_slots_ok')) !== SLOTS ||
        Number(infoField(info, 'cluster_known_nodes')) !== this.nodes.length
      ) {
        return false;
      }
      const lines = parseNodes(String(await askNode(node.port, 'CLUSTER', 'NODES')));
      const owned = lines
        .filter((line) => line.flags.includes('master') && !failed(line))
        .flatMap((line) => line.slots)
        .reduce((sum, [from, to]) => sum + to - from + 1, 0);
      if (owned !== SLOTS) {
        return false;
      }
      views.add(viewOf(lines));
      const agreesOnDead = lines.every(
        (line) => deadPorts.has(line.port) === line.flags.includes('fail'),
      );
      if (!agreesOnDead) {
        return false;
      }
      const replication = String(await askNode(node.port, 'INFO', 'replication'));
      if (
        infoField(replication, 'role') === 'slave' &&
        infoField(replication, 'master_link_status') !== 'up'
      ) {
        return false;
      }
    }
    // Gossip converges: until every node tells the same story, which node a
    // client or shardOf() asks would change the answer.
    return views.size === 1;
  }

  private byPort(port: number): RedisServer | undefined {
    return this.nodes.find((node) => node.port === port);
  }
}

/** `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`, bounded. */
function createCluster(addresses: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: CREATE_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`redis-cli --cluster create failed: ${stderr || stdout || error.message}`),
          );
        } else {
          resolve();
        }
      },
    );
  });
}
