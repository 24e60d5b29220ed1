import type { ServerResponse } from 'node:http';
import type Redis from 'ioredis';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { cliEnv, deployment, startService, stopService } from '../cli/cli-fixtures';
import { compareStreamIds } from '../../src/streams/stream-ids';
import { LoopbackSink, reply } from '../../dev/loopback-sink';
import { RedisServer } from '../../dev/redis-server';

// Real: the built CLI running all four workers, redis-server, a loopback
// health target that holds `/held` probes until the test answers them, so
// an older deployment finishes after a newer one in a known order.

describe('the registry never goes backwards', () => {
  let redis: RedisServer;
  let admin: Redis;
  let target: LoopbackSink;
  let service: { proc: CliProcess; url: string };
  let env: ReturnType<typeof cliEnv>;
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
    target = await LoopbackSink.start({
      answer: ({ path }, res) => (path === '/held' ? held.push(res) : reply(res, 200)),
    });
    env = cliEnv(redis, { LOG_LEVEL: 'info' });
    service = await startService(env);
  }, 60_000);

  afterAll(async () => {
    for (const res of held.splice(0)) {
      res.destroy();
    }
    if (service) {
      await stopService(service.proc);
    }
    admin?.disconnect();
    await target?.close();
    await redis?.dispose();
  });

  const registry = async (): Promise<Record<string, unknown>> =>
    JSON.parse(
      (await admin.hget(`${env.REGISTRY_PREFIX}:staging`, 'billing-api')) ?? '{}',
    ) as Record<string, unknown>;

  /** Adds a deployment:started entry for billing-api at `version`; returns its stream id. */
  async function start(version: string, path: string): Promise<string> {
    const data = deployment({
      deploymentId: `dep-${version}`,
      version,
      artifact: `registry.example.com/billing-api:${version}`,
      healthCheck: {
        url: `${target.base}${path}`,
        timeoutMs: 8000,
        intervalMs: 50,
        maxAttempts: 1,
      },
    });
    return (await admin.xadd(
      `${env.STREAM_PREFIX}:deployment:started`,
      '*',
      ...['id', `evt-${version}`, 'type', 'deployment:started', 'source', 'e2e'],
      ...['data', JSON.stringify(data)],
    )) as string;
  }

  const notified = async (deploymentId: string): Promise<boolean> =>
    (await admin.xrange(`${env.STREAM_PREFIX}:notification:sent`, '-', '+')).some(([, fields]) =>
      fields.join(' ').includes(`"deploymentId":"${deploymentId}"`),
    );

  it('keeps the newer deployment when an older one finishes after it', async () => {
    await start('1.0.0', '/held');
    await eventually(() => held.length === 1, 15_000);
    const newer = await start('2.0.0', '/ok');
    await eventually(() => notified('dep-2.0.0'), 15_000);
    expect(await registry()).toMatchObject({ version: '2.0.0', startedId: newer });

    reply(held.shift() as ServerResponse, 200);
    await eventually(() => notified('dep-1.0.0'), 15_000);
    expect(await registry()).toMatchObject({ version: '2.0.0', startedId: newer });
    expect(service.proc.logs).toContainEqual(
      expect.objectContaining({
        event: 'registry.write_refused',
        deploymentId: 'dep-1.0.0',
        storedStartedId: newer,
      }),
    );
    const metrics = await httpGet(`${service.url}/metrics`);
    expect(metrics.text).toMatch(/printery_registry_writes_total\{result="refused"\} 1\b/);
  });

  it('treats `registry set` as written at its own time', async () => {
    const before = await start('3.0.0', '/held');
    await eventually(() => held.length === 1, 15_000);
    const set = await CliProcess.run(
      ['registry', 'set', 'billing-api', '9.9.9', '--environment', 'staging'],
      env,
    );
    expect(set.code).toBe(0);
    const after = (await admin.xadd(`${env.STREAM_PREFIX}:probe`, '*', 'x', '1')) as string;
    const manual = String((await registry()).startedId);
    expect(compareStreamIds(before, manual)).toBeLessThan(0);
    expect(compareStreamIds(manual, after)).toBeLessThanOrEqual(0);

    // Started before the manual entry: refused. Started after it: replaces it.
    reply(held.shift() as ServerResponse, 200);
    await eventually(() => notified('dep-3.0.0'), 15_000);
    expect(await registry()).toMatchObject({ version: '9.9.9' });
    await start('4.0.0', '/ok');
    await eventually(() => notified('dep-4.0.0'), 15_000);
    expect(await registry()).toMatchObject({ version: '4.0.0' });
  });
});
