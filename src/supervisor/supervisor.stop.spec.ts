import { METRIC } from '../metrics/metric-names';
import { harness, PIPELINE, THREE_LEVELS } from './supervisor.harness';

// The shutdown sequence; fakes only (see supervisor.harness.ts).

describe('SupervisorService', () => {
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
});
