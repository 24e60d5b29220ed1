import { METRIC } from '../metrics/metric-names';
import { harness, PIPELINE } from './supervisor.harness';

// What follows a worker failure, supervised and standalone; fakes only (see supervisor.harness.ts).

describe('SupervisorService', () => {
  describe('in supervised mode', () => {
    it('restarts a crashed worker after the backoff and returns it to running', async () => {
      const h = harness(PIPELINE);
      h.jitter = 0;
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
      const h = harness([['validator', []]], { maxRestartAttempts: 5, restartBackoffMaxMs: 5000 });
      h.jitter = 0;
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
      const h = harness([['validator', []]], { maxRestartAttempts: 3 });
      h.jitter = 0.5;
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
      const h = harness([['validator', []]], { maxRestartAttempts: 2, stablePeriodMs: 10_000 });
      h.jitter = 0;
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
      const h = harness([['validator', []]], { maxRestartAttempts: 2, stablePeriodMs: 10_000 });
      h.jitter = 0;
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
});
