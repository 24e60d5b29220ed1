import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { LoopbackSink } from '../../dev/loopback-sink';
import { RedisServer } from '../../dev/redis-server';
import { type CliProcess, eventually } from '../helpers/cli-process';
import { cliEnv, startService, stopService } from '../cli/cli-fixtures';
import {
  handledPerWorker,
  notificationAudit,
  notificationsPerDeployment,
  publishDeployments,
  topologyOf,
  unfinishedGroups,
} from '../helpers/pipeline-load';

// Real: three built service processes (`node dist/main.js run`) on one
// consumer group per worker, a redis-server of our own, loopback sinks for
// the health probes and the webhooks. No faults: every deployment must be
// notified exactly once, and the work shared between the processes.

const PROCESSES = 3;
const DEPLOYMENTS = 1000;

describe('N replicas of the service on one standalone Redis', () => {
  let redis: RedisServer;
  let admin: Redis;
  let health: LoopbackSink;
  let sink: LoopbackSink;
  const services: Array<{ proc: CliProcess; url: string }> = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
    health = await LoopbackSink.start({ record: false });
    sink = await LoopbackSink.start({ record: false });
  });

  afterAll(async () => {
    await Promise.all(services.map(({ proc }) => proc.dispose()));
    admin.disconnect();
    await Promise.all([health.close(), sink.close()]);
    await redis.dispose();
  });

  it('shares 1,000 deployments among 3 processes and notifies each exactly once', async () => {
    const env = cliEnv(redis, {
      NOTIFY_WEBHOOK_URLS: `${sink.base}/hook`,
      // No faults here: nothing may be reclaimed from a live, busy process.
      CLAIM_IDLE_MS: '60000',
    });
    const topology = topologyOf(env);
    for (let i = 0; i < PROCESSES; i++) {
      services.push(await startService(env));
    }
    const runId = `replicas-${randomUUID().slice(0, 8)}`;
    await publishDeployments(admin, topology, runId, DEPLOYMENTS, `${health.base}/ok`);

    await eventually(
      async () => (await notificationsPerDeployment(admin, topology)).size >= DEPLOYMENTS,
      120_000,
      250,
    ).catch(() => undefined); // what is missing is reported below
    await eventually(
      async () => (await unfinishedGroups(admin, topology)).length === 0,
      15_000,
    ).catch(() => undefined);

    const split = await Promise.all(services.map(({ url }) => handledPerWorker(url)));
    const totals = split.map((handled) => Object.values(handled).reduce((a, b) => a + b, 0));
    const { missing, duplicates } = notificationAudit(
      await notificationsPerDeployment(admin, topology),
      runId,
      DEPLOYMENTS,
    );
    const unfinished = await unfinishedGroups(admin, topology);
    const problems = [
      ...(totals.every((total) => total > 0) ? [] : ['a process handled nothing']),
      ...(missing.length > 0
        ? [`${missing.length} never notified (${missing.slice(0, 5).join(', ')})`]
        : []),
      ...(duplicates > 0 ? [`${duplicates} duplicate notifications`] : []),
      ...unfinished,
    ];
    // The split goes in the failure message only: tests print nothing.
    const splitText = split
      .map((handled, i) => `process ${i}: ${totals[i]} (${JSON.stringify(handled)})`)
      .join('; ');
    expect(problems.length === 0 ? 'ok' : `${problems.join('; ')} — split ${splitText}`).toBe('ok');

    await Promise.all(services.map(({ proc }) => stopService(proc)));
  });
});
