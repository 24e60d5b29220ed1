import { METRIC } from '../metrics/metric-names';
import { harness, PIPELINE } from './supervisor.harness';

// The health loop and the status it feeds; fakes only (see supervisor.harness.ts).

describe('SupervisorService', () => {
  describe('health loop', () => {
    it('restarts a worker found unhealthy and reports it down meanwhile', async () => {
      const h = harness(PIPELINE, { healthCheckIntervalMs: 5000 });
      h.jitter = 0;
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
});
