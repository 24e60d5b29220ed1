import type { PinoLogger } from 'nestjs-pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import type { AppConfig, WorkerName } from '../config';
import { ConfigError } from '../errors';
import { METRIC } from '../metrics/metric-names';
import type { Clock, TimerHandle } from './clock';
import { SupervisorService } from './supervisor.service';
import type { WorkerLifecycle, WorkerProbe } from '../lifecycle/worker-lifecycle';

// All fakes here: the supervisor's ordering, timing and bookkeeping are pure
// logic. The real workers and Redis are covered by test/supervisor/*.e2e-spec.ts.

/** Timers that fire only when the test advances time. */
class FakeClock implements Clock {
  private time = 1_700_000_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.time + Math.max(0, ms), callback });
    return this.seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = [...this.timers.entries()]
        .filter(([, t]) => t.at <= target)
        .sort(([a, ta], [b, tb]) => ta.at - tb.at || a - b)[0];
      if (!next) {
        break;
      }
      const [id, timer] = next;
      this.timers.delete(id);
      this.time = timer.at;
      timer.callback();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

/** Lets every pending promise continuation run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
  fail: (error: Error) => void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

type StartMode = 'ready' | 'gated' | 'reject' | 'never';
/** 'deadline': drains for its whole budget, resolving exactly at the deadline it is given. */
type StopMode = 'ready' | 'gated' | 'never' | 'deadline';

class FakeWorker implements WorkerLifecycle {
  starts = 0;
  stops = 0;
  readingStops = 0;
  /** The deadline passed to each stop() call. */
  stopDeadlines: number[] = [];
  startMode: StartMode = 'ready';
  stopMode: StopMode = 'ready';
  startGates: Gate[] = [];
  stopGates: Gate[] = [];
  healthy = true;
  /** Unhealthy only because its own Redis connection is reconnecting. */
  waitingForRedis = false;
  private onFailure: ((error: Error) => void) | undefined;

  constructor(
    readonly name: WorkerName,
    readonly dependsOn: WorkerName[],
    private readonly journal: string[],
    private readonly clock: FakeClock,
  ) {}

  start(onFailure: (error: Error) => void): Promise<void> {
    this.starts += 1;
    this.onFailure = onFailure;
    this.journal.push(`start ${this.name}`);
    switch (this.startMode) {
      case 'ready':
        return Promise.resolve();
      case 'reject':
        return Promise.reject(new Error(`cannot start ${this.name}`));
      case 'never':
        return new Promise(() => undefined);
      case 'gated': {
        const g = gate();
        this.startGates.push(g);
        return g.promise;
      }
    }
  }

  stopReading(): void {
    this.readingStops += 1;
    this.journal.push(`stopReading ${this.name}`);
  }

  stop(deadline: number): Promise<void> {
    this.stops += 1;
    this.stopDeadlines.push(deadline);
    this.journal.push(`stop ${this.name}`);
    switch (this.stopMode) {
      case 'ready':
        this.journal.push(`stopped ${this.name}`);
        return Promise.resolve();
      case 'never':
        return new Promise(() => undefined);
      case 'deadline':
        return new Promise((resolve) => {
          this.clock.setTimeout(() => {
            this.journal.push(`stopped ${this.name}`);
            resolve();
          }, deadline - this.clock.now());
        });
      case 'gated': {
        const g = gate();
        this.stopGates.push(g);
        return g.promise.then(() => {
          this.journal.push(`stopped ${this.name}`);
        });
      }
    }
  }

  health(): WorkerProbe {
    return {
      healthy: this.healthy,
      ...(this.healthy
        ? {}
        : this.waitingForRedis
          ? { reason: 'redis connection down', waitingForRedis: true }
          : { reason: 'read loop has not polled for 40000ms' }),
      inFlight: 2,
      processed: 7,
      failed: 1,
      deadLettered: 0,
      lastLoopAt: 1_700_000_000_000,
    };
  }

  /** The run loop dies on its own. */
  crash(message = 'run loop died'): void {
    this.onFailure?.(new Error(message));
  }
}

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

/** What the backoff's random source returns; pinned per test. */
let jitter = 0;

beforeEach(() => {
  jitter = 0;
});

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

function harness(
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
      metrics.up,
      metrics.restarts,
      metrics.uptime,
      metrics.errors,
      () => jitter,
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
  return {
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
  };
}

/** The default pipeline shape plus a third level: notifier waits for dependency. */
const THREE_LEVELS: Array<[WorkerName, WorkerName[]]> = [
  ['validator', []],
  ['dependency', ['validator']],
  ['health', ['validator']],
  ['notifier', ['dependency']],
];

const PIPELINE: Array<[WorkerName, WorkerName[]]> = [
  ['validator', []],
  ['dependency', ['validator']],
  ['health', ['validator']],
  ['notifier', ['validator']],
];

describe('SupervisorService', () => {
  describe('when starting', () => {
    it('starts a worker only once its dependencies are ready, and independent ones in parallel', async () => {
      const h = harness(THREE_LEVELS);
      for (const name of ['validator', 'dependency', 'health', 'notifier'] as const) {
        h.worker(name).startMode = 'gated';
      }
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(0);
      expect(h.journal).toEqual(['start validator']);
      expect(h.state(supervisor, 'dependency')).toBe('stopped');

      h.worker('validator').startGates[0]?.open();
      await h.clock.advance(0);
      // Both level-1 workers are starting at the same time.
      expect(h.journal).toEqual(['start validator', 'start dependency', 'start health']);
      expect(h.state(supervisor, 'dependency')).toBe('starting');
      expect(h.state(supervisor, 'health')).toBe('starting');

      h.worker('health').startGates[0]?.open();
      await h.clock.advance(0);
      expect(h.worker('notifier').starts).toBe(0);

      h.worker('dependency').startGates[0]?.open();
      await h.clock.advance(0);
      expect(h.journal.at(-1)).toBe('start notifier');
      h.worker('notifier').startGates[0]?.open();
      await supervisor.whenStarted();
      expect(supervisor.getStatus().map((s) => s.state)).toEqual([
        'running',
        'running',
        'running',
        'running',
      ]);
      expect(supervisor.isReady()).toBe(true);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('does not wait for dependencies outside the selection', async () => {
      const h = harness(PIPELINE);
      h.config.supervisor.workers = ['notifier'];
      const supervisor = await h.started();
      expect(h.journal).toEqual(['start notifier']);
      expect(supervisor.getStatus().map((s) => [s.name, s.state])).toEqual([
        ['notifier', 'running'],
      ]);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('logs each transition once with the worker name and reason', async () => {
      const h = harness([['validator', []]]);
      const supervisor = await h.started();
      expect(h.events('worker.starting', 'validator')).toHaveLength(1);
      expect(h.events('worker.running', 'validator')).toHaveLength(1);
      expect(h.events('worker.running', 'validator')[0]?.fields).toMatchObject({
        worker: 'validator',
        from: 'starting',
        reason: 'bootstrap',
      });
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.events('worker.draining', 'validator')).toHaveLength(1);
      expect(h.events('worker.stopped', 'validator')).toHaveLength(1);
    });
  });

  describe('when a dependency never becomes ready', () => {
    it('counts it as a failed start after the start timeout and, standalone, asks to exit 1', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'never';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(1999);
      expect(h.state(supervisor, 'validator')).toBe('starting');
      expect(h.lifecycle.shuttingDown).toBe(false);

      await h.clock.advance(1);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      expect(supervisor.getStatus()[0]?.lastError).toBe('not ready within 2000ms');
      await expect(h.lifecycle.requested).resolves.toMatchObject({ exitCode: 1 });
      // Its dependants were never started.
      expect(
        ['dependency', 'health', 'notifier'].map((n) => h.worker(n as WorkerName).starts),
      ).toEqual([0, 0, 0]);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'validator', kind: 'start_timeout' }),
      ).toBe(1);
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.state(supervisor, 'dependency')).toBe('stopped');
      expect(h.state(supervisor, 'validator')).toBe('failed');
    });

    it('supervised: retries it, then marks its dependants failed when it gives up', async () => {
      jitter = 0;
      const h = harness(PIPELINE, { startTimeoutMs: 1000, maxRestartAttempts: 2 });
      h.worker('validator').startMode = 'never';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      // start 1000 + backoff 1000 + start 1000 + backoff 2000 + start 1000
      await h.clock.advance(5999);
      expect(h.state(supervisor, 'validator')).toBe('restarting');
      await h.clock.advance(1);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      expect(h.worker('validator').starts).toBe(3);
      await supervisor.whenStarted();
      for (const name of ['dependency', 'health', 'notifier'] as const) {
        expect(h.worker(name).starts).toBe(0);
        expect(h.state(supervisor, name)).toBe('failed');
        expect(supervisor.getStatus().find((s) => s.name === name)?.lastError).toBe(
          'dependency validator is not running',
        );
      }
      await expect(supervisor.waitForHealthy(1000)).rejects.toThrow(/failed/);
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('in supervised mode', () => {
    it('restarts a crashed worker after the backoff and returns it to running', async () => {
      jitter = 0;
      const h = harness(PIPELINE);
      const supervisor = await h.started();

      h.worker('dependency').crash('XREADGROUP failed: connection reset');
      await h.clock.advance(0);
      expect(h.state(supervisor, 'dependency')).toBe('restarting');
      expect(h.worker('dependency').stops).toBe(1);
      expect(supervisor.isReady()).toBe(false);
      await h.clock.advance(999);
      expect(h.worker('dependency').starts).toBe(1);
      await h.clock.advance(1);
      expect(h.worker('dependency').starts).toBe(2);
      expect(h.state(supervisor, 'dependency')).toBe('running');
      expect(supervisor.isReady()).toBe(true);

      const status = supervisor.getStatus().find((s) => s.name === 'dependency');
      expect(status).toMatchObject({
        restarts: 1,
        lastError: 'XREADGROUP failed: connection reset',
      });
      expect(await h.metricValue(METRIC.workerRestarts, { worker: 'dependency' })).toBe(1);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'dependency', kind: 'crashed' }),
      ).toBe(1);
      expect(h.events('worker.restarting', 'dependency')[0]?.fields).toMatchObject({
        reason: 'XREADGROUP failed: connection reset',
        attempt: 1,
        delayMs: 1000,
      });
      // The others were never touched.
      expect(h.worker('validator').starts).toBe(1);
      expect(h.worker('health').stops).toBe(0);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('waits the doubling, capped backoff between consecutive failed restarts', async () => {
      jitter = 0;
      const h = harness([['validator', []]], { maxRestartAttempts: 5, restartBackoffMaxMs: 5000 });
      h.worker('validator').startMode = 'reject';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(60_000);
      expect(h.events('worker.restarting', 'validator').map((l) => l.fields.delayMs)).toEqual([
        1000, 2000, 4000, 5000, 5000,
      ]);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('applies jitter within its bounds', async () => {
      jitter = 0.5;
      const h = harness([['validator', []]], { maxRestartAttempts: 3 });
      h.worker('validator').startMode = 'reject';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(60_000);
      expect(h.events('worker.restarting', 'validator').map((l) => l.fields.delayMs)).toEqual([
        900, 1800, 3600,
      ]);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('gives up after exactly MAX_RESTART_ATTEMPTS failed restarts while the others keep running', async () => {
      const h = harness(PIPELINE, { maxRestartAttempts: 3 });
      const supervisor = await h.started();
      const health = h.worker('health');
      health.startMode = 'reject';
      health.crash();
      await h.clock.advance(120_000);

      expect(health.starts).toBe(1 + 3);
      expect(h.state(supervisor, 'health')).toBe('failed');
      expect(supervisor.getStatus().find((s) => s.name === 'health')?.lastError).toBe(
        'gave up after 3 restart attempts: cannot start health',
      );
      const gaveUp = h.events('worker.failed', 'health');
      expect(gaveUp).toHaveLength(1);
      expect(gaveUp[0]?.level).toBe('error');
      expect(gaveUp[0]?.fields).toMatchObject({ kind: 'gave_up', attempts: 3 });
      expect(await h.metricValue(METRIC.workerErrors, { worker: 'health', kind: 'gave_up' })).toBe(
        1,
      );
      expect(await h.metricValue(METRIC.workerRestarts, { worker: 'health' })).toBe(3);
      expect(await h.metricValue(METRIC.workerUp, { worker: 'health' })).toBe(0);
      expect(supervisor.isReady()).toBe(false);
      expect(h.lifecycle.shuttingDown).toBe(false);
      for (const name of ['validator', 'dependency', 'notifier'] as const) {
        expect(h.state(supervisor, name)).toBe('running');
        expect(h.worker(name).stops).toBe(0);
      }
      // No further attempt is ever made.
      await h.clock.advance(600_000);
      expect(health.starts).toBe(4);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('gives up at once when MAX_RESTART_ATTEMPTS is 0', async () => {
      const h = harness([['validator', []]], { maxRestartAttempts: 0 });
      const supervisor = await h.started();
      h.worker('validator').crash();
      await h.clock.advance(60_000);
      expect(h.worker('validator').starts).toBe(1);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('counts a give-up once while its stop is still under way', async () => {
      const h = harness([['validator', []]], {
        maxRestartAttempts: 0,
        healthCheckIntervalMs: 5000,
      });
      const supervisor = await h.started();
      const worker = h.worker('validator');
      worker.stopMode = 'gated';
      worker.healthy = false;
      await h.clock.advance(5000);
      expect(worker.stops).toBe(1);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      // Health ticks and the run loop's own report arrive while the stop hangs.
      await h.clock.advance(15_000);
      worker.crash();
      worker.stopGates[0]?.open();
      await h.clock.advance(5000);

      expect(h.events('worker.unhealthy', 'validator')).toHaveLength(1);
      expect(h.events('worker.failed', 'validator')).toHaveLength(1);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'validator', kind: 'unhealthy' }),
      ).toBe(1);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'validator', kind: 'gave_up' }),
      ).toBe(1);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'validator', kind: 'crashed' }),
      ).toBeUndefined();
      expect(worker.stops).toBe(1);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('resets the restart count once a worker stays healthy for the stable period', async () => {
      jitter = 0;
      const h = harness([['validator', []]], { maxRestartAttempts: 2, stablePeriodMs: 10_000 });
      const supervisor = await h.started();
      const worker = h.worker('validator');

      worker.crash();
      await h.clock.advance(1000); // restart 1
      worker.crash();
      await h.clock.advance(2000); // restart 2, the last allowed
      expect(h.state(supervisor, 'validator')).toBe('running');
      await h.clock.advance(9999);
      expect(h.events('worker.stable', 'validator')).toHaveLength(0);
      await h.clock.advance(1);
      expect(h.events('worker.stable', 'validator')).toHaveLength(1);

      // Without the reset this crash would be a give-up; now it is attempt 1 again.
      worker.crash();
      await h.clock.advance(0);
      expect(h.state(supervisor, 'validator')).toBe('restarting');
      expect(h.events('worker.restarting', 'validator').at(-1)?.fields).toMatchObject({
        attempt: 1,
        delayMs: 1000,
      });
      await h.clock.advance(1000);
      expect(h.state(supervisor, 'validator')).toBe('running');
      expect(supervisor.getStatus()[0]?.restarts).toBe(3);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('does not reset the count of a worker that crashes before the stable period', async () => {
      jitter = 0;
      const h = harness([['validator', []]], { maxRestartAttempts: 2, stablePeriodMs: 10_000 });
      const supervisor = await h.started();
      const worker = h.worker('validator');
      worker.crash();
      await h.clock.advance(9000);
      worker.crash();
      await h.clock.advance(9000);
      worker.crash();
      await h.clock.advance(0);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('health loop', () => {
    it('restarts a worker found unhealthy and reports it down meanwhile', async () => {
      jitter = 0;
      const h = harness(PIPELINE, { healthCheckIntervalMs: 5000 });
      const supervisor = await h.started();
      expect(await h.metricValue(METRIC.workerUp, { worker: 'notifier' })).toBe(1);

      h.worker('notifier').healthy = false;
      // Readiness, status and metrics see it at once, before the loop acts.
      expect(supervisor.isReady()).toBe(false);
      expect(supervisor.getStatus().find((s) => s.name === 'notifier')).toMatchObject({
        state: 'running',
        healthy: false,
        reason: 'read loop has not polled for 40000ms',
      });
      expect(await h.metricValue(METRIC.workerUp, { worker: 'notifier' })).toBe(0);
      await h.clock.advance(5000);
      expect(h.events('worker.unhealthy', 'notifier')[0]?.fields.reason).toBe(
        'read loop has not polled for 40000ms',
      );
      expect(h.state(supervisor, 'notifier')).toBe('restarting');
      h.worker('notifier').healthy = true;
      await h.clock.advance(1000);
      expect(h.state(supervisor, 'notifier')).toBe('running');
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'notifier', kind: 'unhealthy' }),
      ).toBe(1);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('waits for Redis to come back instead of burning restarts while it is down', async () => {
      const h = harness([['validator', []]], { healthCheckIntervalMs: 5000 });
      const supervisor = await h.started();
      h.redis.ready = false;
      h.worker('validator').healthy = false;
      await h.clock.advance(20_000);
      expect(h.worker('validator').stops).toBe(0);
      expect(h.events('worker.unhealthy', 'validator')).toHaveLength(1);
      expect(supervisor.isReady()).toBe(false);
      h.redis.ready = true;
      h.worker('validator').healthy = true;
      await h.clock.advance(5000);
      expect(h.events('worker.healthy', 'validator')).toHaveLength(1);
      expect(supervisor.isReady()).toBe(true);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('does not fail a standalone worker whose own connection is still reconnecting', async () => {
      // After an outage the main client often reconnects before a worker's
      // read and commit connections; that window is not a failure.
      const h = harness([['validator', []]], { healthCheckIntervalMs: 5000 });
      const supervisor = await h.started();
      h.worker('validator').healthy = false;
      h.worker('validator').waitingForRedis = true;
      await h.clock.advance(20_000);
      expect(h.worker('validator').stops).toBe(0);
      expect(h.state(supervisor, 'validator')).toBe('running');
      expect(supervisor.isReady()).toBe(false);
      h.worker('validator').healthy = true;
      h.worker('validator').waitingForRedis = false;
      await h.clock.advance(5000);
      expect(supervisor.isReady()).toBe(true);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('reports uptime and counters in the status', async () => {
      const h = harness([['validator', []]]);
      const supervisor = await h.started();
      await h.clock.advance(42_000);
      expect(supervisor.getStatus()[0]).toMatchObject({
        name: 'validator',
        state: 'running',
        healthy: true,
        reason: null,
        restarts: 0,
        uptimeSeconds: 42,
        lastError: null,
        inFlight: 2,
        processed: 7,
        failed: 1,
        deadLettered: 0,
      });
      expect(await h.metricValue(METRIC.workerUptime, { worker: 'validator' })).toBe(42);
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('in standalone mode', () => {
    it('does not restart a failed worker and asks the process to exit 1', async () => {
      const h = harness(PIPELINE, { supervised: false });
      const supervisor = await h.started();
      h.worker('health').crash('run loop died: WRONGTYPE');
      await h.clock.advance(0);
      expect(h.state(supervisor, 'health')).toBe('failed');
      await expect(h.lifecycle.requested).resolves.toEqual({
        reason: 'worker health failed: run loop died: WRONGTYPE',
        exitCode: 1,
      });
      await h.clock.advance(600_000);
      expect(h.worker('health').starts).toBe(1);

      // The drain then stops the others and the failed one.
      await supervisor.beforeApplicationShutdown();
      for (const name of ['validator', 'dependency', 'notifier'] as const) {
        expect(h.state(supervisor, name)).toBe('stopped');
      }
      expect(h.worker('health').stops).toBe(1);
      expect(h.state(supervisor, 'health')).toBe('failed');
    });
  });

  describe('when stopping', () => {
    it('stops dependants before their dependencies, independent ones in parallel', async () => {
      const h = harness(THREE_LEVELS);
      const supervisor = await h.started();
      for (const name of ['validator', 'dependency', 'health', 'notifier'] as const) {
        h.worker(name).stopMode = 'gated';
      }
      h.journal.length = 0;
      const stopped = supervisor.stopAll(h.clock.now() + 30_000);
      // Every worker stops reading at once, before anything is awaited.
      expect([...h.journal].sort()).toEqual([
        'stopReading dependency',
        'stopReading health',
        'stopReading notifier',
        'stopReading validator',
      ]);
      h.journal.length = 0;
      await h.clock.advance(0);
      // notifier (level 2) and health (a leaf) drain together; dependency waits for notifier.
      expect([...h.journal].sort()).toEqual(['stop health', 'stop notifier']);
      expect(h.state(supervisor, 'health')).toBe('draining');

      h.worker('notifier').stopGates[0]?.open();
      await h.clock.advance(0);
      expect(h.journal.at(-1)).toBe('stop dependency');
      h.worker('dependency').stopGates[0]?.open();
      await h.clock.advance(0);
      expect(h.worker('validator').stops).toBe(0);
      h.worker('health').stopGates[0]?.open();
      await h.clock.advance(0);
      expect(h.journal.at(-1)).toBe('stop validator');
      h.worker('validator').stopGates[0]?.open();
      await stopped;
      expect(h.journal.slice(2)).toEqual([
        'stopped notifier',
        'stop dependency',
        'stopped dependency',
        'stopped health',
        'stop validator',
        'stopped validator',
      ]);
      expect(supervisor.getStatus().every((s) => s.state === 'stopped')).toBe(true);
    });

    it('stops every worker reading at once, while its dependants still drain', async () => {
      const h = harness(THREE_LEVELS);
      const supervisor = await h.started();
      h.worker('notifier').stopMode = 'gated';
      const stopped = supervisor.stopAll(h.clock.now() + 30_000);
      await h.clock.advance(10_000);
      // The validator drains last, but took no new work during the 10 s its
      // dependants were draining.
      expect(h.worker('validator').readingStops).toBe(1);
      expect(h.worker('validator').stops).toBe(0);
      const firstStopped = h.journal.findIndex((line) => line.startsWith('stopped '));
      const lastReadingStop = h.journal.findLastIndex((line) => line.startsWith('stopReading '));
      expect(lastReadingStop).toBeLessThan(firstStopped);
      h.worker('notifier').stopGates[0]?.open();
      await stopped;
      expect(h.journal.filter((line) => line.startsWith('stop ')).at(-1)).toBe('stop validator');
      for (const name of ['validator', 'dependency', 'health', 'notifier'] as const) {
        expect(h.worker(name).readingStops).toBe(1);
      }
    });

    it('does not stop reading a worker that is not live (restart pending)', async () => {
      const h = harness([['validator', []]]);
      const supervisor = await h.started();
      h.worker('validator').crash();
      await h.clock.advance(0);
      expect(h.state(supervisor, 'validator')).toBe('restarting');
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.worker('validator').readingStops).toBe(0);
    });

    it('carries on draining when a worker throws from stopReading', async () => {
      const h = harness(PIPELINE);
      const supervisor = await h.started();
      h.worker('validator').stopReading = () => {
        throw new Error('boom');
      };
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.events('worker.stop_reading_failed', 'validator')).toHaveLength(1);
      expect(h.worker('validator').stops).toBe(1);
      expect(h.worker('notifier').readingStops).toBe(1);
      expect(supervisor.getStatus().every((s) => s.state === 'stopped')).toBe(true);
    });

    it('does not report a stop timeout for a worker that drains for its whole budget', async () => {
      const h = harness(PIPELINE);
      const supervisor = await h.started();
      for (const name of ['validator', 'dependency', 'health', 'notifier'] as const) {
        h.worker(name).stopMode = 'deadline';
      }
      const deadline = h.clock.now() + 30_000;
      const stopped = supervisor.stopAll(deadline);
      await h.clock.advance(30_000);
      await stopped;
      // The first drains get a deadline 500 ms early; the validator, last,
      // gets a tenth of what is left.
      expect(h.worker('notifier').stopDeadlines).toEqual([deadline - 500]);
      expect(h.worker('validator').stopDeadlines).toEqual([deadline - 50]);
      expect(h.events('worker.stop_timeout')).toHaveLength(0);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'notifier', kind: 'stop_timeout' }),
      ).toBeUndefined();
      expect(supervisor.getStatus().every((s) => s.state === 'stopped')).toBe(true);
    });

    it('never waits past the deadline for a worker that ignores it', async () => {
      const h = harness(PIPELINE);
      const supervisor = await h.started();
      h.worker('notifier').stopMode = 'never';
      let done = false;
      void supervisor.stopAll(h.clock.now() + 5000).then(() => {
        done = true;
      });
      await h.clock.advance(4999);
      expect(done).toBe(false);
      // validator waits for notifier, but only until the shared deadline.
      expect(h.worker('validator').stops).toBe(0);
      await h.clock.advance(1);
      expect(done).toBe(true);
      expect(h.worker('validator').stops).toBe(1);
      expect(h.events('worker.stop_timeout', 'notifier')).toHaveLength(1);
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'notifier', kind: 'stop_timeout' }),
      ).toBe(1);
      expect(supervisor.getStatus().every((s) => s.state === 'stopped')).toBe(true);
    });

    it('cancels a pending restart when shutdown arrives during the backoff', async () => {
      const h = harness([['validator', []]]);
      const supervisor = await h.started();
      h.worker('validator').crash();
      await h.clock.advance(0);
      expect(h.state(supervisor, 'validator')).toBe('restarting');
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.events('worker.restart_cancelled', 'validator')).toHaveLength(1);
      await h.clock.advance(600_000);
      expect(h.worker('validator').starts).toBe(1);
      expect(h.state(supervisor, 'validator')).toBe('stopped');
    });

    it('stops a worker that is still starting and never marks it running', async () => {
      const h = harness(PIPELINE);
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(0);
      await supervisor.stopAll(h.clock.now() + 1000);
      expect(h.worker('validator').stops).toBe(1);
      h.worker('validator').startGates[0]?.open();
      await supervisor.whenStarted();
      expect(supervisor.getStatus().map((s) => s.state)).toEqual([
        'stopped',
        'stopped',
        'stopped',
        'stopped',
      ]);
      expect(h.worker('dependency').starts).toBe(0);
    });

    it('shows running workers as draining and not ready as soon as shutdown is requested', async () => {
      const h = harness([['validator', []]]);
      const supervisor = await h.started();
      h.lifecycle.requestShutdown('signal SIGTERM');
      expect(supervisor.isReady()).toBe(false);
      expect(supervisor.getStatus()[0]?.state).toBe('draining');
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('waitForHealthy', () => {
    it('resolves once every worker runs healthy', async () => {
      const h = harness(PIPELINE);
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      let healthy = false;
      const wait = supervisor.waitForHealthy(10_000).then(() => {
        healthy = true;
      });
      await h.clock.advance(500);
      expect(healthy).toBe(false);
      h.worker('validator').startGates[0]?.open();
      await h.clock.advance(100);
      await wait;
      expect(healthy).toBe(true);
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('rejects after its timeout naming the workers not yet healthy', async () => {
      const h = harness(PIPELINE);
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      const wait = supervisor.waitForHealthy(1000);
      const outcome = expect(wait).rejects.toThrow(
        'not healthy within 1000ms: validator (starting), dependency (stopped)',
      );
      await h.clock.advance(1000);
      await outcome;
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('wiring checks', () => {
    it('rejects a dependency cycle as a configuration error', () => {
      const h = harness([
        ['validator', ['notifier']],
        ['dependency', ['validator']],
        ['notifier', ['dependency']],
      ]);
      expect(h.create).toThrow(ConfigError);
      expect(h.create).toThrow('dependency cycle validator -> notifier -> dependency -> validator');
    });

    it('rejects a dependency on a worker nobody registered', () => {
      const h = harness([
        ['validator', []],
        ['dependency', ['health']],
      ]);
      expect(h.create).toThrow(ConfigError);
      expect(h.create).toThrow(/depends on "health", which is not a registered worker/);
    });

    it('rejects a selected worker nobody registered', () => {
      const h = harness([['validator', []]]);
      h.config.supervisor.workers = ['validator', 'notifier'];
      expect(h.create).toThrow('worker notifier is selected but not registered in WorkersModule');
    });
  });
});
