import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import Redis from 'ioredis';
import { RedisServer } from '../redis-server';

/** Redis topologies a chaos run can use; Sentinel and Cluster plug in here. */
export const TOPOLOGIES = ['standalone'] as const;
export type TopologyKind = (typeof TOPOLOGIES)[number];

/**
 * The Redis a chaos run stands on, and the Redis-side faults it can inject.
 * Each topology implements these; the soak itself does not know which runs.
 */
export interface ChaosRedis {
  readonly kind: TopologyKind;
  /** Variables that point a service process at it. */
  serviceEnv(): NodeJS.ProcessEnv;
  /**
   * A client for the producer, the faults and the history; the caller
   * disconnects it. `resend: false` for the producer: a command in flight
   * when the connection drops is not sent again behind its back (ioredis
   * then never settles it; the producer times it out and counts a retry).
   */
  client(name: string, options?: { resend?: boolean }): Redis;
  /** Stops the data node(s) gracefully and starts them again on the same address, data kept. */
  restart(): Promise<void>;
  /** CLIENT PAUSE on every data node. */
  pause(ms: number): Promise<void>;
  /**
   * CLIENT KILL of the connections of the service process `pid` (of every
   * service process when its sockets cannot be told apart). Returns how many.
   */
  killConnections(pid: number): Promise<number>;
  dispose(): Promise<void>;
}

/** Local TCP ports of the sockets process `pid` holds (Linux /proc), or undefined elsewhere. */
function localPortsOf(pid: number): Set<number> | undefined {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' });
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) {
        inodes.add(match[1] as string);
      }
    }
    const ports = new Set<number>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const columns = line.trim().split(/\s+/);
        if (columns.length > 9 && inodes.has(columns[9] as string)) {
          ports.add(parseInt((columns[1] as string).split(':')[1] as string, 16));
        }
      }
    }
    return ports;
  } catch {
    return undefined;
  }
}

/** One redis-server with AOF, every write fsynced: a restart loses nothing acknowledged. */
class StandaloneRedis implements ChaosRedis {
  readonly kind = 'standalone' as const;

  constructor(private readonly server: RedisServer) {}

  serviceEnv(): NodeJS.ProcessEnv {
    return { REDIS_URL: this.server.url };
  }

  client(name: string, options: { resend?: boolean } = {}): Redis {
    const client = new Redis(this.server.url, {
      connectionName: name,
      maxRetriesPerRequest: 3,
      autoResendUnfulfilledCommands: options.resend ?? true,
    });
    // Faults drop connections on purpose; ioredis reconnects by itself.
    client.on('error', () => undefined);
    return client;
  }

  restart(): Promise<void> {
    return this.server.restart();
  }

  async pause(ms: number): Promise<void> {
    const admin = this.client('chaos:fault');
    try {
      await admin.client('PAUSE', ms, 'ALL');
    } finally {
      admin.disconnect();
    }
  }

  async killConnections(pid: number): Promise<number> {
    const admin = this.client('chaos:fault');
    try {
      const ports = localPortsOf(pid);
      const list = (await admin.client('LIST')) as string;
      let killed = 0;
      for (const line of list.split('\n')) {
        const id = /\bid=(\d+)/.exec(line)?.[1];
        const port = Number(/\baddr=[^ ]*:(\d+)/.exec(line)?.[1]);
        const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
        const theirs = ports ? ports.has(port) : name.startsWith('printery');
        if (id && theirs) {
          killed += Number(await admin.client('KILL', 'ID', id));
        }
      }
      return killed;
    } finally {
      admin.disconnect();
    }
  }

  dispose(): Promise<void> {
    return this.server.dispose();
  }
}

export async function startChaosRedis(kind: TopologyKind): Promise<ChaosRedis> {
  switch (kind) {
    case 'standalone':
      return new StandaloneRedis(
        await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] }),
      );
  }
}
