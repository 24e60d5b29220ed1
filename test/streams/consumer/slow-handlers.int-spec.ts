import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount, readAll, sleep } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// Slow handlers: claim keep-alive, a peer that reclaimed, handler timeouts.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:slow' });

  describe('when a handler is slower than CLAIM_IDLE_MS', () => {
    it('keeps its claim alive so another consumer does not steal the message', async () => {
      const handledBy: string[] = [];
      const slow = h.start({
        consumerName: 'slow',
        concurrency: 1,
        settings: { claimIdleMs: 600 },
        handler: async (message) => {
          handledBy.push('slow');
          await sleep(2500);
          return okHandler(message);
        },
      });
      await slow.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('long-1'));
      await eventually(() => handledBy.length === 1);
      const thief = h.start({
        consumerName: 'thief',
        concurrency: 1,
        settings: { claimIdleMs: 600 },
        handler: async (message) => {
          handledBy.push('thief');
          return okHandler(message);
        },
      });
      await thief.consumer.start(() => undefined);

      await eventually(async () => (await h.redis.xlen(h.output())) === 1, 10_000);
      // Several claim rounds of the thief have passed by now.
      expect(handledBy).toEqual(['slow']);
      expect(thief.logger.events('message.claimed')).toHaveLength(0);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(0);
    });
  });

  describe('when a peer has legitimately reclaimed an entry still being handled', () => {
    it('does not take it back with its keep-alive and does not commit it too', async () => {
      const handledBy: string[] = [];
      let releaseA: () => void = () => undefined;
      const handlerOf = (name: string, wait: boolean) => async () => {
        handledBy.push(name);
        if (wait) {
          await new Promise<void>((resolve) => {
            releaseA = resolve;
          });
        }
        return {
          outcome: 'ok' as const,
          outputs: [{ type: EVENT_TYPES.validationCompleted, data: { by: name } }],
        };
      };
      const a = h.start({
        consumerName: 'A',
        settings: { claimIdleMs: 600 },
        handler: handlerOf('A', true),
      });
      await a.consumer.start(() => undefined);
      const id = (await h.redis.xadd(h.input(), '*', ...eventFields('contested'))) as string;
      await eventually(() => handledBy.length === 1);
      const b = h.start({
        consumerName: 'B',
        settings: { claimIdleMs: 600 },
        handler: handlerOf('B', false),
      });
      await b.consumer.start(() => undefined);

      // As if A's connection had been down past CLAIM_IDLE_MS and B had reclaimed it.
      await h.redis.xclaim(h.input(), 'printery-validator', 'B', 0, id, 'JUSTID');
      await eventually(() => a.logger.events('message.claim_lost').length === 1);
      expect(a.logger.events('message.claim_lost')[0]?.level).toBe('warn');
      // B keeps it and handles it once it is idle long enough for B's own claim round.
      await eventually(() => handledBy.includes('B'), 10_000);
      await eventually(async () => (await h.redis.xlen(h.output())) === 1);

      releaseA();
      await eventually(() => a.logger.events('message.commit_abandoned').length === 1);
      const outputs = await readAll(h.redis, h.output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ by: 'B' })]);
      expect(a.counters.processed).toBe(0);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(0);
    });
  });

  describe('when a handler overruns its timeout', () => {
    it('aborts its signal, counts a failure and reports itself unhealthy until it settles', async () => {
      let aborted = false;
      let release: () => void = () => undefined;
      const c = h.start({
        handlerTimeoutMs: 200,
        settings: { claimIdleMs: 60_000 },
        handler: async (message) => {
          message.signal.addEventListener('abort', () => {
            aborted = true;
          });
          // Ignores the signal on purpose: the slot must stay taken.
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('stuck'));
      await eventually(() => c.counters.failed === 1);
      expect(aborted).toBe(true);
      expect(c.consumer.health()).toMatchObject({ healthy: false, inFlight: 1 });
      expect(c.consumer.health().reason).toMatch(/exceeded the 200ms timeout/);
      release();
      await eventually(() => c.consumer.health().healthy);
      // The late result is not committed: the entry stays pending for a retry.
      expect(await h.redis.xlen(h.output())).toBe(0);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(1);
    });
  });
});
