import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { LoopbackSink } from '../../dev/loopback-sink';
import { RedisCluster } from '../../dev/redis-cluster';
import { deployment, startService, stopService, writeJsonFile } from '../cli/cli-fixtures';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';

const ENVIRONMENTS = ['development', 'staging', 'production'];

/**
 * A registry prefix whose environments' hashes are not all on one master,
 * so `registry list` only finds them all by scanning every master. Registry
 * keys need no shared slot: single-key commands only.
 */
async function spreadRegistryPrefix(cluster: RedisCluster, base: string): Promise<string> {
  for (let n = 0; ; n += 1) {
    const prefix = `${base}${n}`;
    const masters = await Promise.all(
      ENVIRONMENTS.map(
        async (environment) => (await cluster.shardOf(`${prefix}:${environment}`)).master.port,
      ),
    );
    if (new Set(masters).size > 1) {
      return prefix;
    }
  }
}

/**
 * Real dependencies: a Redis Cluster of 3 masters and 3 replicas on loopback
 * (dev/redis-cluster.ts, every node a redis-server started and killed by
 * pid), the built CLI spawned as processes, a loopback health and webhook
 * target. Nothing here fails over: that is test/failover.
 */
describe('printery-workers on a Redis Cluster (SPEC §2)', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  let target: LoopbackSink;
  let dir: string;
  let env: NodeJS.ProcessEnv & { STREAM_PREFIX: string };
  let service: Awaited<ReturnType<typeof startService>>;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = cluster.client();
    target = await LoopbackSink.start();
    dir = mkdtempSync(join(tmpdir(), 'printery-cluster-'));
    const id = randomUUID().slice(0, 8);
    env = {
      REGISTRY_PREFIX: await spreadRegistryPrefix(cluster, `test:${id}:registry`),
      REDIS_CLUSTER_NODES: cluster.seeds,
      // The hash tag puts every stream of the pipeline on one slot.
      STREAM_PREFIX: `{test:${id}:events}`,
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
    await client?.quit();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs a deployment through all four workers, and publish --wait follows it', async () => {
    const request = deployment({
      healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
      notify: [{ type: 'webhook', url: target.url('/hook') }],
    });
    const result = await CliProcess.run(
      ['publish', writeJsonFile(dir, 'ok.json', request), '--wait', '30s'],
      env,
      40_000,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`deployment ${String(request.deploymentId)} succeeded in`);
    await eventually(() => target.received('/hook').length > 0, 10_000);
    // Nothing left pending once the notification is out.
    const pending = (await client.xpending(
      `${env.STREAM_PREFIX}:deployment:started`,
      'printery-validator',
    )) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('status names the topology and the master that owns the pipeline slot', async () => {
    const shard = await cluster.shardOf(`${env.STREAM_PREFIX}:deployment:started`);
    const result = await CliProcess.run(['status', '--json'], env);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      topology: 'cluster',
      slotOwner: `127.0.0.1:${shard.master.port}`,
      streamPrefix: env.STREAM_PREFIX,
    });
    expect(report.redis).toContain('Redis Cluster (seeds ');

    const live = await httpGet(`${service.url}/status`);
    expect(live.body).toMatchObject({
      redis: { topology: 'cluster', slotOwner: `127.0.0.1:${shard.master.port}` },
    });
    expect((await httpGet(`${service.url}/health/ready`)).status).toBe(200);
  });

  it('lists dead letters and registry entries held by every master', async () => {
    const input = `${env.STREAM_PREFIX}:deployment:started`;
    await client.xadd(input, '*', 'id', 'poison-1', 'type', 'deployment:started', 'data', '{');
    await eventually(async () => {
      const listed = await CliProcess.run(['dlq', 'list', '--json'], env);
      return listed.code === 0 && (JSON.parse(listed.stdout) as unknown[]).length === 1;
    }, 20_000);

    // Hashes on different masters (spreadRegistryPrefix).
    for (const environment of ENVIRONMENTS) {
      const set = await CliProcess.run(
        ['registry', 'set', 'auth-api', '2.1.0', '--environment', environment],
        env,
      );
      expect(set.stderr).toBe('');
      expect(set.code).toBe(0);
    }
    const listed = await CliProcess.run(['registry', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as Array<{ environment: string; service: string }>;
    expect(
      entries
        .filter((entry) => entry.service === 'auth-api')
        .map((entry) => entry.environment)
        .sort(),
    ).toEqual(['development', 'production', 'staging']);
  });

  it('config shows the Cluster topology', async () => {
    const result = await CliProcess.run(['config', '--json'], env);
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as { config: { redis: Record<string, unknown> } };
    expect(shown.config.redis).toMatchObject({
      topology: 'cluster',
      clusterNodes: cluster.seeds.split(','),
    });
  });

  it('refuses a prefix without a hash tag with exit 2, naming STREAM_PREFIX', async () => {
    const untagged = { ...env, STREAM_PREFIX: 'test:untagged:events' };
    for (const command of [['run'], ['status'], ['config']]) {
      const result = await CliProcess.run(command, untagged);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        'STREAM_PREFIX: "test:untagged:events" has no hash tag; in Cluster mode (REDIS_CLUSTER_NODES) expected a prefix with one, e.g. {materi:events:deployment}',
      );
    }
  });
});
