import { type Server, type Socket, createServer } from 'node:net';
import { CliProcess, type LogLine, eventually } from '../helpers/cli-process';
import { RedisCluster } from '../../dev/redis-cluster';
import { RedisServer, freePort } from '../../dev/redis-server';

/**
 * A loopback TCP server that accepts connections and never answers: what a
 * proxy in front of a gone backend, or a hung server, looks like to a client.
 */
async function silentServer(): Promise<{
  port: number;
  accepted: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/**
 * Real: the built CLI spawned as a process, and a redis-server of its own
 * that is restarted while the service creates its consumer groups (held
 * there by CLIENT PAUSE … WRITE), as a failover right after start-up would.
 */
describe('printery-workers run when Redis goes away during start-up', () => {
  let redis: RedisServer;
  let app: CliProcess | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    await app?.dispose();
    app = undefined;
  });

  afterAll(async () => {
    await redis.dispose();
  });

  /** `run` on a free port with `env`; afterEach disposes of it. */
  const startRun = async (env: NodeJS.ProcessEnv): Promise<{ proc: CliProcess; port: number }> => {
    const port = await freePort();
    const proc = new CliProcess(['run'], { PORT: String(port), ...env });
    app = proc;
    return { proc, port };
  };
  const ready = async (port: number): Promise<boolean> =>
    (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
  const connectFailures = (proc: CliProcess): LogLine[] =>
    proc.logs.filter((line) => line.event === 'redis.connect_failed');

  it('waits for it and starts, rather than exiting 1', async () => {
    const admin = redis.client();
    await admin.client('PAUSE', 20_000, 'WRITE');
    const { proc, port } = await startRun({
      REDIS_URL: redis.url,
      STREAM_PREFIX: 'test:startup-retry',
      STARTUP_TIMEOUT_MS: '20000',
    });
    await eventually(async () => ((await admin.client('LIST')) as string).includes('cmd=xgroup'));
    admin.disconnect();
    // Down long enough for ioredis to give the queued XGROUP up (two failed reconnects).
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.start();

    const retry = await proc.waitForEvent('streams.startup_retry', 20_000);
    expect(retry.err).toEqual(expect.objectContaining({ message: expect.any(String) }));
    await proc.waitForEvent('streams.groups_ready', 20_000);
    await proc.waitForEvent('service.listening', 20_000);
    // Ready once every worker has started.
    await eventually(() => ready(port));
    expect(proc.child.exitCode).toBeNull();
  });

  it('ends on SIGTERM while a group creation hangs, without waiting for Redis', async () => {
    const admin = redis.client();
    // XGROUP CREATE is a write: held for longer than the test waits for the exit.
    await admin.client('PAUSE', 30_000, 'WRITE');
    try {
      const { proc } = await startRun({
        REDIS_URL: redis.url,
        STREAM_PREFIX: 'test:startup-sigterm',
        STARTUP_TIMEOUT_MS: '60000',
      });
      await eventually(async () => ((await admin.client('LIST')) as string).includes('cmd=xgroup'));
      proc.signal('SIGTERM');
      const exit = await proc.waitForExit(10_000);
      expect(exit.code).toBe(0);
    } finally {
      await admin.client('UNPAUSE');
      admin.disconnect();
    }
  });

  it('still reconnects after a later outage when Redis came up only after the first attempts', async () => {
    await redis.stop();
    const { proc, port } = await startRun({
      REDIS_URL: redis.url,
      STREAM_PREFIX: 'test:startup-late',
      STARTUP_TIMEOUT_MS: '30000',
    });
    // Two failed attempts: the connection has closed and been retried before Redis is there.
    await eventually(() => connectFailures(proc).length >= 2);
    await redis.start();
    await proc.waitForEvent('redis.connected', 20_000);
    await eventually(() => ready(port), 20_000);

    // The outage at run time: every connection must come back by itself.
    await redis.restart();
    await proc.waitForEvent('redis.reconnected', 20_000);
    await eventually(() => ready(port), 20_000);
    expect(proc.child.exitCode).toBeNull();
  });

  it('with every sentinel refusing, logs each round of the sentinels and exits 1 naming them', async () => {
    const sentinels = `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const { proc } = await startRun({
      REDIS_SENTINELS: sentinels,
      REDIS_SENTINEL_MASTER: 'printery',
      STARTUP_TIMEOUT_MS: '3000',
    });
    const exit = await proc.waitForExit(20_000);
    expect(exit.code).toBe(1);
    expect(proc.stderr).toMatch(/unreachable after 3000ms.*All sentinels are unreachable/);
    // One line per round of the sentinels, not one per 8 s attempt bound.
    const attempts = connectFailures(proc);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const attempt of attempts) {
      expect(attempt.reason).toMatch(/^All sentinels are unreachable/);
    }
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('refuses a wrong password on a Redis Cluster at once (exit 1), naming it as such', async () => {
    const cluster = await RedisCluster.start();
    try {
      for (const node of cluster.nodes) {
        const admin = node.client();
        await admin.config('SET', 'requirepass', 'cluster-secret-right');
        admin.disconnect();
      }
      const started = Date.now();
      const result = await CliProcess.run(
        ['run'],
        {
          REDIS_CLUSTER_NODES: cluster.seeds,
          REDIS_PASSWORD: 'cluster-secret-wrong',
          STREAM_PREFIX: '{test:auth}:events',
          REGISTRY_PREFIX: '{test:auth}:registry',
          PORT: String(await freePort()),
          STARTUP_TIMEOUT_MS: '20000',
        },
        30_000,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/refused the user name or password.*WRONGPASS/);
      // Not retried until STARTUP_TIMEOUT_MS: a password does not get better by waiting.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result.stdout + result.stderr).not.toContain('cluster-secret-wrong');
    } finally {
      await cluster.stop();
    }
  }, 60_000);

  describe('a Redis that accepts connections and never answers', () => {
    it('exits 1 after STARTUP_TIMEOUT_MS, saying no reply came, instead of hanging', async () => {
      const silent = await silentServer();
      try {
        const started = Date.now();
        // Past one attempt's bound (8 s), so a second attempt runs on a fresh connection.
        const { proc } = await startRun({
          REDIS_URL: `redis://127.0.0.1:${silent.port}`,
          STARTUP_TIMEOUT_MS: '9500',
        });
        const exit = await proc.waitForExit(30_000);
        expect(exit.code).toBe(1);
        expect(proc.stderr).toMatch(
          new RegExp(`127\\.0\\.0\\.1:${silent.port} is unreachable after 9500ms.*no reply within`),
        );
        expect(Date.now() - started).toBeLessThan(14_000);
        const attempts = connectFailures(proc);
        expect(attempts.length).toBeGreaterThanOrEqual(1);
        for (const attempt of attempts) {
          expect(attempt.reason).toMatch(/^no reply within \d+ms$/);
        }
        expect(silent.accepted()).toBeGreaterThanOrEqual(2);
      } finally {
        await silent.close();
      }
    });

    it('ends on SIGTERM at once, exit 0', async () => {
      const silent = await silentServer();
      try {
        const { proc } = await startRun({
          REDIS_URL: `redis://127.0.0.1:${silent.port}`,
          STARTUP_TIMEOUT_MS: '60000',
        });
        await eventually(() => silent.accepted() >= 1);
        // Past the TCP connect: the service is waiting on a reply that never comes.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const signalled = Date.now();
        proc.signal('SIGTERM');
        const exit = await proc.waitForExit(10_000);
        expect(exit.code).toBe(0);
        expect(Date.now() - signalled).toBeLessThan(3000);
      } finally {
        await silent.close();
      }
    });
  });
});
