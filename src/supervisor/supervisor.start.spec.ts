import type { WorkerName } from '../config';
import { ConfigError } from '../errors';
import { METRIC } from '../metrics/metric-names';
import { STARTUP_TIMEOUT_MS, harness, PIPELINE, THREE_LEVELS } from './supervisor.harness';

// Start order, readiness and wiring checks; fakes only (see supervisor.harness.ts).

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
      const h = harness(PIPELINE, { startTimeoutMs: 1000, maxRestartAttempts: 2 });
      h.jitter = 0;
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
      await expect(h.waitForHealthy(supervisor, 1000)).rejects.toThrow(/failed/);
      await supervisor.stopAll(h.clock.now() + 1000);
    });
  });

  describe('when Redis is unreachable while a worker starts', () => {
    it('does not count the wait against the start timeout: a start that outlasts it still runs', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(500);
      h.redis.ready = false;
      // A failover far longer than the start timeout.
      await h.clock.advance(10_000);
      expect(h.state(supervisor, 'validator')).toBe('starting');
      expect(h.lifecycle.shuttingDown).toBe(false);
      const waiting = h.events('worker.start_waiting_for_redis', 'validator');
      expect(waiting).toHaveLength(1);
      expect(waiting[0]).toMatchObject({
        level: 'warn',
        fields: { startTimeoutMs: 2000, redisWaitMs: STARTUP_TIMEOUT_MS },
      });

      h.redis.ready = true;
      await h.clock.advance(1000);
      h.worker('validator').startGates[0]?.open();
      await h.clock.advance(10);
      expect(h.state(supervisor, 'validator')).toBe('running');
      expect(h.events('worker.running', 'validator')[0]?.fields).toMatchObject({
        waitedForRedisMs: 10_000,
      });
      // No start timeout was ever counted.
      expect(
        await h.metricValue(METRIC.workerErrors, { worker: 'validator', kind: 'start_timeout' }),
      ).toBeUndefined();
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('still times out a start that hangs while Redis answers, counting only that time', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'never';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      await h.clock.advance(1000);
      h.redis.ready = false;
      await h.clock.advance(3000);
      h.redis.ready = true;
      // 1000 ms counted before the outage, 999 after it.
      await h.clock.advance(999);
      expect(h.state(supervisor, 'validator')).toBe('starting');
      await h.clock.advance(1);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      expect(supervisor.getStatus()[0]?.lastError).toBe('not ready within 2000ms');
      await expect(h.lifecycle.requested).resolves.toMatchObject({ exitCode: 1 });
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('counts a worker whose own connection is down as waiting too', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      // The service's connection is up; the worker's own is reconnecting.
      h.worker('validator').healthy = false;
      h.worker('validator').waitingForRedis = true;
      await h.clock.advance(5000);
      expect(h.state(supervisor, 'validator')).toBe('starting');
      expect(supervisor.getStatus()[0]?.reason).toBe('starting: waiting for Redis');
      h.worker('validator').healthy = true;
      h.worker('validator').waitingForRedis = false;
      h.worker('validator').startGates[0]?.open();
      await h.clock.advance(10);
      expect(h.state(supervisor, 'validator')).toBe('running');
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('fails the start once Redis has been away longer than STARTUP_TIMEOUT_MS, standalone with exit 1', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'never';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      h.redis.ready = false;
      await h.clock.advance(STARTUP_TIMEOUT_MS);
      expect(h.state(supervisor, 'validator')).toBe('starting');
      await h.clock.advance(250);
      expect(h.state(supervisor, 'validator')).toBe('failed');
      expect(supervisor.getStatus()[0]?.lastError).toBe(
        `Redis unreachable for ${STARTUP_TIMEOUT_MS + 250}ms while starting (STARTUP_TIMEOUT_MS ${STARTUP_TIMEOUT_MS}ms)`,
      );
      await expect(h.lifecycle.requested).resolves.toMatchObject({ exitCode: 1 });
      await supervisor.stopAll(h.clock.now() + 1000);
    });

    it('stops timing a start that shutdown abandons, leaving no timer behind', async () => {
      const h = harness(PIPELINE, { supervised: false, startTimeoutMs: 2000 });
      h.worker('validator').startMode = 'never';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      h.redis.ready = false;
      await h.clock.advance(1000);
      const stopped = supervisor.stopAll(h.clock.now() + 1000);
      await h.clock.advance(1000);
      await stopped;
      await h.clock.advance(1000);
      expect(h.clock.pending).toBe(0);
    });
  });

  describe('waitForHealthy', () => {
    it('resolves once every worker runs healthy', async () => {
      const h = harness(PIPELINE);
      h.worker('validator').startMode = 'gated';
      const supervisor = h.create();
      supervisor.onApplicationBootstrap();
      let healthy = false;
      const wait = h.waitForHealthy(supervisor, 10_000).then(() => {
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
      const wait = h.waitForHealthy(supervisor, 1000);
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
