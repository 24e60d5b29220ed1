import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection-factory';
import { StreamTopology } from '../../src/streams/topology';
import { type Report, check } from './checker';
import { faultSchedule, FaultInjector, DEFAULT_FAULT_MIX } from './faults';
import { startFlakyTargets } from './flaky-targets';
import { BASE_SERVICE, planDeployments, publish } from './producer';
import { Random } from './random';
import { readHistory } from './read-history';
import { type TopologyKind, startChaosRedis } from './redis-topology';
import { ServiceFleet } from './service-fleet';

export interface SoakOptions {
  seed: number;
  deployments: number;
  /** deployment:started entries per second. */
  rate: number;
  processes: number;
  faults: number;
  topology: TopologyKind;
  /** Services the deployments are spread over (several deployments each). */
  services: number;
  /** The whole run, faults and wait for outcomes included. */
  timeLimitMs: number;
  /** Idle time after which a dead consumer's entries are reclaimed (CLAIM_IDLE_MS). */
  claimIdleMs: number;
  log: (line: string) => void;
  /** Aborting ends the run early (Ctrl-C); it still cleans up and checks what is there. */
  signal?: AbortSignal;
}

export interface SoakResult {
  seed: number;
  report: Report;
  wallMs: number;
  /** Set when the time limit passed before every deployment had an outcome. */
  timedOut: boolean;
  logDir: string;
}

/** The services' settings that the duplicate bounds depend on (their defaults, not overridden). */
const CONCURRENCY = { validator: 1, dependency: 5, health: 10, notifier: 5 };
const MAX_DELIVERIES = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deployment ids that have a notification:sent, read on from `after`. */
async function notifiedSince(redis: RedisClient, stream: string, after: string, into: Set<string>) {
  let last = after;
  for (;;) {
    const page = await redis.xrange(stream, last === '0' ? '-' : `(${last}`, '+', 'COUNT', 2000);
    for (const [id, fields] of page) {
      last = id;
      const data = fields[fields.indexOf('data') + 1] ?? '';
      const match = /"deploymentId":"([^"]+)"/.exec(data);
      if (match) {
        into.add(match[1] as string);
      }
    }
    if (page.length < 2000) {
      return last;
    }
  }
}

/** Until every consumer group has nothing pending and nothing unread, or `ms` pass. */
async function settle(redis: RedisClient, topology: StreamTopology, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const history = await readHistory(redis, topology, [], []).catch(() => undefined);
    if (history?.groups.every((g) => g.pending === 0 && (g.lag ?? 0) === 0)) {
      return;
    }
    await sleep(500);
  }
}

/**
 * One chaos run: N service processes on one Redis, flaky targets, a steady
 * producer, faults from the seed; then the checker over what is left.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const startedAt = Date.now();
  const random = new Random(options.seed);
  const logDir = mkdtempSync(join(tmpdir(), 'printery-chaos-'));
  const runId = `chaos-${options.seed.toString(16)}`;
  // The hash tag keeps every stream of the run in one slot, as Redis Cluster requires.
  const topology = new StreamTopology(`{${runId}}:events`, `${runId}:registry`);
  const redis = await startChaosRedis(options.topology);
  const targets = await startFlakyTargets(new Random(options.seed ^ 0x5eed));
  const admin = redis.client('chaos:admin');
  const producer = redis.client('chaos:producer', { resend: false });
  const fleet = new ServiceFleet(
    options.processes,
    {
      ...redis.serviceEnv(),
      STREAM_PREFIX: topology.prefix,
      REGISTRY_PREFIX: topology.registryPrefix,
      ENVIRONMENT: 'development',
      // CHAOS_LOG_LEVEL=debug when replaying a seed to see what a service did.
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_WEBHOOK_URLS: targets.sink.url('/hook/default'),
      NOTIFY_BACKOFF_MS: '50',
      CLAIM_IDLE_MS: String(options.claimIdleMs),
      SHUTDOWN_TIMEOUT_MS: '10000',
      STREAM_MAXLEN: '0',
      MAX_DELIVERIES: String(MAX_DELIVERIES),
      // Faults land on process starts. The start timeout does not count time
      // while the service's Redis connection is down, but a Cluster client
      // stays ready while one master fails over, and a loaded machine took
      // longer than the default 15 s for that plus a pause (standalone: exit 1).
      WORKER_START_TIMEOUT_MS: '60000',
    },
    logDir,
  );
  try {
    await admin.hset(
      topology.registryKey('staging'),
      BASE_SERVICE,
      JSON.stringify({ version: '1.0.0', deploymentId: null, dependencies: [], healthy: true }),
    );
    const requests = planDeployments(
      random,
      options.deployments,
      options.services,
      { health: targets.health.base, sink: targets.sink.base },
      runId,
    );
    await fleet.start();
    options.log(`${options.processes} service processes ready; logs in ${logDir}`);

    const runStart = Date.now();
    const deadline = startedAt + options.timeLimitMs;
    const over = () => Date.now() > deadline || options.signal?.aborted === true;
    const publishMs = (options.deployments * 1000) / options.rate;
    const schedule = faultSchedule(random, options.faults, publishMs, DEFAULT_FAULT_MIX);
    const injector = new FaultInjector(
      redis,
      fleet,
      random,
      topology.stream('deployment:started'),
      runStart,
      options.log,
    );
    const faulting = (async () => {
      for (const fault of schedule) {
        await sleep(runStart + fault.atMs - Date.now());
        if (over()) {
          return;
        }
        await injector
          .inject(fault.kind)
          .catch((error: unknown) =>
            options.log(`fault ${fault.kind} could not be injected: ${String(error)}`),
          );
      }
    })();
    const published = await publish(
      producer,
      topology.stream('deployment:started'),
      requests,
      options.rate,
      over,
    );
    options.log(
      `published ${requests.length} deployments in ${((Date.now() - runStart) / 1000).toFixed(1)} s`,
    );
    await faulting;
    await injector.settled();

    const notified = new Set<string>();
    let cursor = '0';
    let reported = 0;
    while (notified.size < requests.length && !over()) {
      cursor = await notifiedSince(
        admin,
        topology.stream('notification:sent'),
        cursor,
        notified,
      ).catch(() => cursor);
      if (Date.now() - reported > 10_000) {
        reported = Date.now();
        options.log(`outcomes: ${notified.size}/${requests.length}`);
      }
      await sleep(500);
    }
    const timedOut = notified.size < requests.length;
    options.log(
      `outcomes: ${notified.size}/${requests.length} after ${((Date.now() - runStart) / 1000).toFixed(1)} s`,
    );
    await settle(admin, topology, Math.max(0, Math.min(30_000, deadline - Date.now())));
    const history = await readHistory(admin, topology, ['staging'], targets.deliveries);
    const report = check(history, {
      deployments: requests.map((r) => r.planned),
      faults: injector.done,
      processes: options.processes,
      concurrency: CONCURRENCY,
      maxDeliveries: MAX_DELIVERIES,
      producerRetries: published.retries,
      unexpectedExits: fleet.unexpectedExits,
    });
    return { seed: options.seed, report, wallMs: Date.now() - startedAt, timedOut, logDir };
  } finally {
    await fleet.stop();
    admin.disconnect();
    producer.disconnect();
    await targets.close();
    await redis.dispose();
  }
}
