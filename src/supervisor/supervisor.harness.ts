import type { PinoLogger } from 'nestjs-pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import type { AppConfig, WorkerName } from '../config';
import { METRIC } from '../metrics/metric-names';
import { RestartPolicy } from './restart-policy';
import { SupervisorMetrics } from './supervisor-metrics';
import { SupervisorService } from './supervisor.service';
import { FakeClock, FakeWorker } from './fakes.harness';

// The one harness of the supervisor.*.spec.ts files. All fakes: the
// supervisor's ordering, timing and bookkeeping are pure logic. The real
// workers and Redis are covered by test/supervisor/*.e2e-spec.ts.

interface LogEntry {
  level: string;
  fields: Record<string, unknown>;
}

function fakeLogger(entries: LogEntry[]): PinoLogger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>): void => {
      entries.push({ level, fields });
    };
  return {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
  } as unknown as PinoLogger;
}

const SUPERVISOR_DEFAULTS: AppConfig['supervisor'] = {
  workers: ['validator', 'dependency', 'health', 'notifier'],
  supervised: true,
  maxRestartAttempts: 3,
  restartBackoffMs: 1000,
  restartBackoffMaxMs: 5000,
  stablePeriodMs: 60_000,
  healthCheckIntervalMs: 30_000,
  hangThresholdMs: 30_000,
  startTimeoutMs: 15_000,
  shutdownTimeoutMs: 30_000,
};

/** STARTUP_TIMEOUT_MS of the harness: how long a start may wait for Redis. */
export const STARTUP_TIMEOUT_MS = 30_000;

export function harness(
  declared: Array<[WorkerName, WorkerName[]]>,
  overrides: Partial<AppConfig['supervisor']> = {},
) {
  const journal: string[] = [];
  const logs: LogEntry[] = [];
  const clock = new FakeClock();
  const lifecycle = new ProcessLifecycle();
  const registry = new Registry();
  const redis = { ready: true, isReady: () => redis.ready };
  const workers = declared.map(([name, deps]) => new FakeWorker(name, deps, journal, clock));
  const config = {
    supervisor: {
      ...SUPERVISOR_DEFAULTS,
      workers: declared.map(([name]) => name),
      ...overrides,
    },
    redis: { startupTimeoutMs: STARTUP_TIMEOUT_MS },
  } as AppConfig;
  const metrics = {
    up: new Gauge({
      name: METRIC.workerUp,
      help: 'h',
      labelNames: ['worker'],
      registers: [registry],
    }),
    restarts: new Counter({
      name: METRIC.workerRestarts,
      help: 'h',
      labelNames: ['worker'],
      registers: [registry],
    }),
    uptime: new Gauge({
      name: METRIC.workerUptime,
      help: 'h',
      labelNames: ['worker'],
      registers: [registry],
    }),
    errors: new Counter({
      name: METRIC.workerErrors,
      help: 'h',
      labelNames: ['worker', 'kind'],
      registers: [registry],
    }),
  };
  const create = () =>
    new SupervisorService(
      workers,
      config,
      lifecycle,
      fakeLogger(logs),
      clock,
      redis,
      new SupervisorMetrics(metrics.up, metrics.restarts, metrics.uptime, metrics.errors),
      // The backoff's random source reads the pinned jitter.
      new RestartPolicy(config.supervisor, () => h.jitter),
    );
  /** A supervisor that has run its bootstrap and finished starting its workers. */
  const started = async (): Promise<SupervisorService> => {
    const supervisor = create();
    supervisor.onApplicationBootstrap();
    await supervisor.whenStarted();
    return supervisor;
  };
  const worker = (name: WorkerName): FakeWorker => {
    const found = workers.find((w) => w.name === name);
    if (!found) {
      throw new Error(name);
    }
    return found;
  };
  const state = (supervisor: SupervisorService, name: WorkerName) =>
    supervisor.getStatus().find((s) => s.name === name)?.state;
  const metricValue = async (name: string, labels: Record<string, string>) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const value = (metric?.values ?? []).find((v) =>
      Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    );
    return value?.value;
  };
  const events = (event: string, name?: WorkerName) =>
    logs.filter((l) => l.fields.event === event && (!name || l.fields.worker === name));
  /**
   * Resolves once every selected worker is running and healthy; rejects when
   * `timeoutMs` passes first on the fake clock, when a worker has failed for
   * good, or when shutdown begins.
   */
  const waitForHealthy = (supervisor: SupervisorService, timeoutMs: number): Promise<void> => {
    const deadline = clock.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const poll = (): void => {
        const status = supervisor.getStatus();
        if (supervisor.isReady()) {
          resolve();
          return;
        }
        const failed = status.filter((w) => w.state === 'failed');
        if (failed.length > 0) {
          const names = failed.map((w) => `${w.name} (${w.lastError})`);
          reject(new Error(`workers failed: ${names.join(', ')}`));
          return;
        }
        if (lifecycle.shuttingDown) {
          reject(new Error('shutting down'));
          return;
        }
        if (clock.now() >= deadline) {
          const waiting = status
            .filter((w) => !(w.state === 'running' && w.healthy))
            .map((w) => `${w.name} (${w.state})`);
          reject(new Error(`not healthy within ${timeoutMs}ms: ${waiting.join(', ')}`));
          return;
        }
        clock.setTimeout(poll, Math.min(50, Math.max(1, deadline - clock.now())));
      };
      poll();
    });
  };
  const h = {
    /** What the backoff's random source returns; pin it before the restarts happen. */
    jitter: 0,
    journal,
    logs,
    clock,
    lifecycle,
    redis,
    config,
    create,
    started,
    worker,
    state,
    metricValue,
    events,
    waitForHealthy,
  };
  return h;
}

/** The default pipeline shape plus a third level: notifier waits for dependency. */
export const THREE_LEVELS: Array<[WorkerName, WorkerName[]]> = [
  ['validator', []],
  ['dependency', ['validator']],
  ['health', ['validator']],
  ['notifier', ['dependency']],
];

export const PIPELINE: Array<[WorkerName, WorkerName[]]> = [
  ['validator', []],
  ['dependency', ['validator']],
  ['health', ['validator']],
  ['notifier', ['validator']],
];
