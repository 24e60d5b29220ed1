import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { RedisServer, freePort } from '../../dev/redis-server';

/**
 * Real dependencies: the built CLI spawned as a process, a redis-server of
 * its own on a free loopback port (password-protected), HTTP on loopback.
 */
describe('printery-workers run', () => {
  const redisPassword = 'redis-pw-7f3a91';
  const webhookSecret = 'whsec-2c8e44d1';
  let redis: RedisServer;
  let app: CliProcess | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start({ password: redisPassword });
  });

  afterAll(async () => {
    await redis.dispose();
  });

  afterEach(async () => {
    await app?.dispose();
    app = undefined;
  });

  const start = async (env: NodeJS.ProcessEnv = {}) => {
    const port = await freePort();
    app = new CliProcess(['run'], {
      REDIS_URL: redis.url,
      PORT: String(port),
      STREAM_PREFIX: `test:${port}`,
      NOTIFY_WEBHOOK_SECRET: webhookSecret,
      NOTIFY_WEBHOOK_URLS: 'http://127.0.0.1:9/hooks/tok-secret-path',
      HEALTH_CHECK_INTERVAL_MS: '200',
      ...env,
    });
    await app.waitForEvent('service.listening');
    return { app, base: `http://127.0.0.1:${port}` };
  };

  it('answers its probes, and readiness follows Redis going away and coming back', async () => {
    const { app: proc, base } = await start();
    expect((await httpGet(`${base}/health/live`)).status).toBe(200);
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200);
    const ready = await httpGet(`${base}/health`);
    expect(ready.body).toMatchObject({
      status: 'ok',
      details: {
        redis: { status: 'up' },
        validator: { status: 'up' },
        dependency: { status: 'up' },
        health: { status: 'up' },
        notifier: { status: 'up' },
      },
    });

    await redis.stop();
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 503);
    const down = await httpGet(`${base}/health/ready`);
    expect(down.body).toMatchObject({ status: 'error', error: { redis: { status: 'down' } } });
    expect((await httpGet(`${base}/health/live`)).status).toBe(200);
    expect((await httpGet(`${base}/metrics`)).text).toMatch(/^printery_redis_up 0$/m);

    await redis.start();
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200, 20_000);
    expect((await httpGet(`${base}/metrics`)).text).toMatch(/^printery_redis_up 1$/m);
    expect(proc.child.exitCode).toBeNull();

    // The outage in the log: one line when lost, one when back (with how
    // long); what failed meanwhile only because Redis was away is counted.
    await proc.waitForEvent('redis.reconnected');
    const outageLines = proc.logs.filter(
      (line) =>
        line.level === 'warn' || line.level === 'error' || line.event === 'redis.reconnected',
    );
    // The restarted Redis kept nothing (no persistence): each group's recreation is a fact of its own.
    expect(outageLines.filter((line) => line.event !== 'group.recreated')).toEqual([
      expect.objectContaining({ event: 'redis.disconnected', level: 'warn' }),
      expect.objectContaining({
        event: 'redis.reconnected',
        level: 'info',
        downMs: expect.any(Number),
        repeats: expect.any(Object),
      }),
    ]);
  });

  it('keeps the Redis password and the webhook secret out of logs, /status and /metrics', async () => {
    const { app: proc, base } = await start({ LOG_LEVEL: 'debug' });
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200);
    const status = await httpGet(`${base}/status`);
    const metrics = await httpGet(`${base}/metrics`);
    expect(status.status).toBe(200);
    expect(metrics.text).toContain('printery_worker_up');
    // Make the connection fail so ioredis errors get logged too.
    await redis.stop();
    await proc.waitForEvent('redis.disconnected');
    await redis.start();
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200, 20_000);
    proc.signal('SIGTERM');
    await proc.waitForExit();
    // A request line names method, path, status and time; no headers, no null status.
    expect(
      proc.logs.find((line) => line.event === 'http.request' && line.url === '/status'),
    ).toEqual(
      expect.objectContaining({ method: 'GET', statusCode: 200, responseTime: expect.any(Number) }),
    );
    expect(
      proc.logs.filter((line) => line.event === 'http.request' && ('req' in line || 'res' in line)),
    ).toEqual([]);
    for (const secret of [redisPassword, webhookSecret, 'tok-secret-path']) {
      expect(status.text).not.toContain(secret);
      expect(metrics.text).not.toContain(secret);
      expect(proc.stdout).not.toContain(secret);
      expect(proc.stderr).not.toContain(secret);
    }
  });

  it('exits 1 with one clear line when Redis stays unreachable past STARTUP_TIMEOUT_MS', async () => {
    const deadPort = await freePort();
    const started = Date.now();
    const result = await CliProcess.run(['run'], {
      REDIS_URL: `redis://app:${redisPassword}@127.0.0.1:${deadPort}`,
      STARTUP_TIMEOUT_MS: '1500ms',
      PORT: String(await freePort()),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `Redis at redis://app:\\[REDACTED\\]@127.0.0.1:${deadPort} is unreachable after 1500ms`,
      ),
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stdout + result.stderr).not.toContain(redisPassword);
  });

  it('stops at once with exit 0 when signalled while still waiting for Redis', async () => {
    const proc = new CliProcess(['run'], {
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      STARTUP_TIMEOUT_MS: '20s',
      PORT: String(await freePort()),
    });
    app = proc;
    await proc.waitForEvent('redis.connect_failed');
    const sent = performance.now();
    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(5000);
    expect(exit.code).toBe(0);
    expect(performance.now() - sent).toBeLessThan(2000);
    expect(proc.stderr).toBe('');
  });

  it('exits 1 without echoing the password when Redis refuses it', async () => {
    const result = await CliProcess.run(['run'], {
      REDIS_URL: `redis://:wrong-pw-123456@127.0.0.1:${redis.port}`,
      STARTUP_TIMEOUT_MS: '500ms',
      PORT: String(await freePort()),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/WRONGPASS|NOAUTH|invalid username-password/i);
    expect(result.stdout + result.stderr).not.toContain('wrong-pw-123456');
  });

  it('stops within a second of SIGTERM when idle, with exit 0', async () => {
    const { app: proc, base } = await start();
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200);
    const sent = performance.now();
    proc.signal('SIGTERM');
    const exit = await proc.waitForExit(5000);
    const elapsedMs = Math.round(performance.now() - sent);
    expect(exit.code).toBe(0);
    expect(elapsedMs).toBeLessThan(1000);
  });
});
