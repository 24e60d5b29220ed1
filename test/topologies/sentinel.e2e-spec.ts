import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopbackSink } from '../../dev/loopback-sink';
import { RedisSentinel } from '../../dev/redis-sentinel';
import { deployment, startService, stopService, writeJsonFile } from '../cli/cli-fixtures';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';

/**
 * Real dependencies: a master, a replica and 3 sentinels on loopback
 * (dev/redis-sentinel.ts, started and killed by pid), the built CLI spawned
 * as processes, a loopback health and webhook target. Failover under load is
 * test/failover's; here one deployment after a kill -9 of the master proves
 * the service follows the promotion at all.
 */
describe('printery-workers through Redis Sentinel (SPEC §2)', () => {
  let sentinel: RedisSentinel;
  let target: LoopbackSink;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let service: Awaited<ReturnType<typeof startService>>;

  const publish = async (name: string): Promise<Awaited<ReturnType<typeof CliProcess.run>>> => {
    const request = deployment({
      healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
      notify: [{ type: 'webhook', url: target.url(`/hook-${name}`) }],
    });
    return CliProcess.run(
      ['publish', writeJsonFile(dir, `${name}.json`, request), '--wait', '40s'],
      env,
      50_000,
    );
  };

  beforeAll(async () => {
    sentinel = await RedisSentinel.start();
    target = await LoopbackSink.start();
    dir = mkdtempSync(join(tmpdir(), 'printery-sentinel-'));
    const id = randomUUID().slice(0, 8);
    env = {
      REDIS_SENTINELS: sentinel.sentinels,
      REDIS_SENTINEL_MASTER: sentinel.masterName,
      STREAM_PREFIX: `test:${id}:events`,
      REGISTRY_PREFIX: `test:${id}:registry`,
      HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      CLAIM_IDLE_MS: '200',
    };
    service = await startService(env);
  }, 120_000);

  afterAll(async () => {
    if (service) {
      await stopService(service.proc).finally(() => service.proc.dispose());
    }
    await target?.close();
    await sentinel?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs a deployment through all four workers, and status names the topology', async () => {
    const result = await publish('first');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deployment \S+ succeeded in/);

    const status = await CliProcess.run(['status', '--json'], env);
    expect(status.stderr).toBe('');
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(report.topology).toBe('sentinel');
    expect(report.redis).toContain(`Redis Sentinel master "${sentinel.masterName}"`);
    const live = await httpGet(`${service.url}/status`);
    expect(live.body).toMatchObject({ redis: { topology: 'sentinel' } });
  });

  it('follows the promotion after a kill -9 of the master: ready again, and the next deployment completes', async () => {
    await sentinel.kill9Master();
    await eventually(
      async () => (await httpGet(`${service.url}/health/ready`)).status === 200,
      30_000,
    );
    const result = await publish('after');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/deployment \S+ succeeded in/);
    expect(service.proc.logs.filter((line) => line.event === 'redis.disconnected')).toHaveLength(1);
    await eventually(
      () => service.proc.logs.some((line) => line.event === 'redis.reconnected'),
      10_000,
    );
  });
});
