import { CliProcess, eventually } from '../helpers/cli-process';
import { RedisServer, freePort } from '../../dev/redis-server';

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

  afterAll(async () => {
    await app?.dispose();
    await redis.dispose();
  });

  it('waits for it and starts, rather than exiting 1', async () => {
    const admin = redis.client();
    await admin.client('PAUSE', 20_000, 'WRITE');
    const port = await freePort();
    app = new CliProcess(['run'], {
      REDIS_URL: redis.url,
      PORT: String(port),
      STREAM_PREFIX: `test:${port}`,
      STARTUP_TIMEOUT_MS: '20000',
    });
    await eventually(async () => ((await admin.client('LIST')) as string).includes('cmd=xgroup'));
    admin.disconnect();
    // Down long enough for ioredis to give the queued XGROUP up (two failed reconnects).
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.start();

    const retry = await app.waitForEvent('streams.startup_retry', 20_000);
    expect(retry.err).toEqual(expect.objectContaining({ message: expect.any(String) }));
    await app.waitForEvent('streams.groups_ready', 20_000);
    await app.waitForEvent('service.listening', 20_000);
    // Ready once every worker has started.
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200,
    );
    expect(app.child.exitCode).toBeNull();
  });

  it('ends on SIGTERM while a group creation hangs, without waiting for Redis', async () => {
    await app?.dispose();
    const admin = redis.client();
    // XGROUP CREATE is a write: held for longer than the test waits for the exit.
    await admin.client('PAUSE', 30_000, 'WRITE');
    try {
      const port = await freePort();
      app = new CliProcess(['run'], {
        REDIS_URL: redis.url,
        PORT: String(port),
        STREAM_PREFIX: `test:${port}`,
        STARTUP_TIMEOUT_MS: '60000',
      });
      await eventually(async () => ((await admin.client('LIST')) as string).includes('cmd=xgroup'));
      app.signal('SIGTERM');
      const exit = await app.waitForExit(10_000);
      expect(exit.code).toBe(0);
    } finally {
      await admin.client('UNPAUSE');
      admin.disconnect();
    }
  });
});
