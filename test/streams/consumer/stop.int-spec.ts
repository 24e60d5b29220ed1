import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount, readAll, sleep } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// stop(deadline): the drain and the close.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:stop' });

  describe('stop()', () => {
    it('returns in well under a second while blocked on an empty stream', async () => {
      const c = h.start({ settings: { blockMs: 5000 }, handler: okHandler });
      await c.consumer.start(() => undefined);
      // The first read is issued right after the initial claim round.
      await sleep(200);
      const begun = performance.now();
      await c.consumer.stop(Date.now() + 10_000);
      const took = performance.now() - begun;
      expect(took).toBeLessThan(500);
      expect(c.connections.every((conn) => conn.status === 'end')).toBe(true);
    });

    it('returns at once while Redis is down, and does not reconnect afterwards', async () => {
      const c = h.start({ settings: { blockMs: 5000 }, handler: okHandler });
      await c.consumer.start(() => undefined);
      await sleep(200);
      await h.server.stop();
      try {
        await eventually(() => c.connections.every((conn) => conn.status === 'reconnecting'));
        const begun = performance.now();
        await c.consumer.stop(Date.now() + 10_000);
        expect(performance.now() - begun).toBeLessThan(500);
      } finally {
        await h.server.start();
      }
      // Given time to reconnect, a stopped consumer must not come back.
      await sleep(1000);
      expect(c.connections.map((conn) => conn.status)).not.toContain('ready');
    });

    it('leaves nothing running when it lands while start() is still creating groups', async () => {
      const c = h.start({ worker: 'notifier', handler: okHandler });
      const starting = c.consumer.start(() => undefined);
      const commit = c.connection('commit');
      const xgroup = commit.xgroup.bind(commit) as (...args: unknown[]) => Promise<unknown>;
      let stopped: Promise<void> | undefined;
      // Stop right after the first group is created, before start() arms its timers.
      (commit as unknown as { xgroup: unknown }).xgroup = (...args: unknown[]) =>
        xgroup(...args).finally(() => {
          stopped ??= c.consumer.stop(Date.now() + 2000);
        });

      await expect(starting).rejects.toThrow(/stopped while starting/);
      await stopped;
      expect(c.logger.events('consumer.started')).toHaveLength(0);
      await eventually(() => c.connections.every((conn) => conn.status === 'end'), 2000);
      await h.redis.xadd(`${h.prefix}:${EVENT_TYPES.healthChecked}`, '*', ...eventFields('late'));
      await sleep(300);
      expect(c.counters.processed).toBe(0);
    });

    it('is idempotent', async () => {
      const c = h.start({ handler: okHandler });
      await c.consumer.start(() => undefined);
      const first = c.consumer.stop(Date.now() + 1000);
      expect(c.consumer.stop(Date.now() + 1000)).toBe(first);
      await first;
    });

    it('waits for slow handlers up to the deadline and leaves unfinished ones pending', async () => {
      const c = h.start({
        concurrency: 2,
        settings: { claimIdleMs: 60_000 },
        handler: async (message) => {
          if (message.envelope.id === 'quick') {
            await sleep(300);
          } else {
            // Well-behaved: gives up when the stop deadline aborts its signal.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 5000);
              message.signal.addEventListener('abort', () => {
                clearTimeout(timer);
                resolve();
              });
            });
          }
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('quick'));
      await h.redis.xadd(h.input(), '*', ...eventFields('slow'));
      await eventually(() => c.consumer.health().inFlight === 2);

      const begun = Date.now();
      await c.consumer.stop(begun + 2000);
      const took = Date.now() - begun;
      // Handlers get the time left minus a slice kept for closing; the stop ends by the deadline.
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThanOrEqual(2050);
      const outputs = await readAll(h.redis, h.output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ of: 'quick' })]);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(1);
    });
  });
});
