import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { EVENT_TYPES, StreamTopology } from '../../src/streams/topology';
import { WORKER_NAMES } from '../../src/config/worker-names';
import { parseSamples } from './metrics-text';
import { httpGet } from './cli-process';

/** A standalone, Sentinel-followed or Cluster client: the commands used here exist on all three. */
export type AnyRedis = Redis | Cluster;

/** The `id` of deployment `i` of a run: its deploymentId, and its event id `evt-<id>`. */
export function deploymentIdOf(runId: string, i: number): string {
  return `${runId}-${i}`;
}

/**
 * The fields of a deployment:started entry for deployment `i`: no
 * dependencies, one health probe of `healthUrl` (answering 200 at once), and
 * the service's default webhook (NOTIFY_WEBHOOK_URLS) as the only target.
 */
export function deploymentFields(runId: string, i: number, healthUrl: string): string[] {
  const deploymentId = deploymentIdOf(runId, i);
  const service = `svc-${i % 50}`;
  const data = {
    deploymentId,
    service,
    version: `1.${i}.0`,
    environment: 'staging',
    artifact: `registry.example.com/${service}:1.${i}.0`,
    dependencies: [],
    healthCheck: { url: healthUrl, timeoutMs: 2000, intervalMs: 20, maxAttempts: 3 },
    notify: [],
    requestedBy: 'e2e',
  };
  return [
    ...['specversion', '1.0', 'id', `evt-${deploymentId}`, 'type', EVENT_TYPES.deploymentStarted],
    ...['source', 'e2e-load', 'subject', deploymentId, 'time', new Date().toISOString()],
    ...['datacontenttype', 'application/json', 'data', JSON.stringify(data)],
  ];
}

/**
 * Publishes `count` deployments one after the other, each XADD retried (same
 * source and id, so the Validator skips a copy) while Redis fails over.
 * `onPublished(i)` runs after each one, e.g. to inject a fault midway.
 * Returns how many XADDs were retried.
 */
export async function publishDeployments(
  redis: AnyRedis,
  topology: StreamTopology,
  runId: string,
  count: number,
  healthUrl: string,
  onPublished: (i: number) => Promise<void> | void = () => undefined,
  /**
   * Replicas each XADD must reach (WAIT) before it counts as published, as a
   * producer that must survive a kill -9 of the master does: replication is
   * asynchronous, and an XADD acknowledged by a master killed a moment later
   * may never reach the replica that takes over. Not reached: sent again
   * (same source and id, so the service runs it once). Asked per XADD: once
   * a failover is over there may be no replica left to wait for.
   */
  replicasNow: () => number = () => 0,
): Promise<{ retries: number }> {
  const stream = topology.stream(EVENT_TYPES.deploymentStarted);
  let retries = 0;
  for (let i = 0; i < count; i++) {
    const fields = deploymentFields(runId, i, healthUrl);
    for (let attempt = 0; ; attempt++) {
      try {
        const replicas = replicasNow();
        if (replicas === 0) {
          await redis.xadd(stream, '*', ...fields);
          break;
        }
        // One pipeline: in Cluster mode it goes to the stream's master, so WAIT counts its replicas.
        const replies = await redis
          .pipeline()
          .xadd(stream, '*', ...fields)
          .call('WAIT', replicas, 2000)
          .exec();
        const failure = replies?.find(([error]) => error)?.[0];
        if (failure) {
          throw failure;
        }
        if (Number(replies?.[1]?.[1]) < replicas) {
          throw new Error(`XADD reached ${String(replies?.[1]?.[1])} of ${replicas} replicas`);
        }
        break;
      } catch (error) {
        if (attempt >= 150) {
          throw error;
        }
        retries += 1;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await onPublished(i);
  }
  return { retries };
}

/** How many notification:sent entries name each deployment. */
export async function notificationsPerDeployment(
  redis: AnyRedis,
  topology: StreamTopology,
): Promise<Map<string, number>> {
  const entries = await redis.xrange(topology.stream(EVENT_TYPES.notificationSent), '-', '+');
  const counts = new Map<string, number>();
  for (const [, flat] of entries) {
    const data = flat[flat.indexOf('data') + 1] ?? 'null';
    const id = (JSON.parse(data) as { deploymentId?: string } | null)?.deploymentId;
    if (id) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** The deployments of a run with no notification, and how many notifications were duplicates. */
export function notificationAudit(
  counts: Map<string, number>,
  runId: string,
  count: number,
): { missing: string[]; duplicates: number } {
  const missing: string[] = [];
  for (let i = 0; i < count; i++) {
    if (!counts.has(deploymentIdOf(runId, i))) {
      missing.push(deploymentIdOf(runId, i));
    }
  }
  const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
  return { missing, duplicates };
}

/** Every consumer group of the pipeline with entries pending or unread (lag), as `group@stream: …`. */
export async function unfinishedGroups(
  redis: AnyRedis,
  topology: StreamTopology,
): Promise<string[]> {
  const unfinished: string[] = [];
  for (const worker of WORKER_NAMES) {
    for (const { stream, group } of topology.readsOf(worker)) {
      const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      for (const flat of groups) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < flat.length; i += 2) {
          info.set(String(flat[i]), flat[i + 1]);
        }
        const pending = Number(info.get('pending'));
        const lag = info.get('lag') === null ? 0 : Number(info.get('lag'));
        if (info.get('name') === group && (pending > 0 || lag > 0)) {
          unfinished.push(`${group}@${stream}: ${pending} pending, lag ${lag}`);
        }
      }
    }
  }
  return unfinished;
}

/** Entries one service process handled, per worker, from its own /metrics. */
export async function handledPerWorker(baseUrl: string): Promise<Record<string, number>> {
  const { text } = await httpGet(`${baseUrl}/metrics`);
  const handled: Record<string, number> = {};
  for (const sample of parseSamples(text)) {
    if (sample.name === 'printery_events_processed_total') {
      const worker = sample.labels.worker ?? '?';
      handled[worker] = (handled[worker] ?? 0) + sample.value;
    }
  }
  return handled;
}

/** The topology a service process with these variables uses. */
export function topologyOf(env: {
  STREAM_PREFIX: string;
  REGISTRY_PREFIX: string;
}): StreamTopology {
  return new StreamTopology(env.STREAM_PREFIX, env.REGISTRY_PREFIX);
}
