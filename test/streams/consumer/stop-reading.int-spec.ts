import { eventually } from '../../helpers/cli-process';
import { eventFields, readAll, sleep } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// stopReading(): taking no new work, and what a read in flight brings.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:stop-reading' });

  describe('stopReading()', () => {
    it('takes no new work at once, lets in-flight handlers finish and stop() commits them', async () => {
      const handled: string[] = [];
      let release: () => void = () => undefined;
      const c = h.start({
        concurrency: 2,
        settings: { blockMs: 5000, claimIdleMs: 60_000 },
        handler: async (message) => {
          handled.push(message.envelope.id);
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('in-flight'));
      await eventually(() => handled.length === 1);

      const begun = performance.now();
      c.consumer.stopReading();
      c.consumer.stopReading();
      expect(performance.now() - begun).toBeLessThan(50);
      // The blocked XREADGROUP does not keep its connection.
      const read = c.connection('read');
      await eventually(() => read?.status === 'end', 1000);
      expect(c.consumer.health()).toMatchObject({ healthy: false, reason: 'stopping' });

      await h.redis.xadd(h.input(), '*', ...eventFields('arrived-later'));
      await sleep(300);
      expect(handled).toEqual(['in-flight']);

      const stopped = c.consumer.stop(Date.now() + 5000);
      release();
      await stopped;
      const outputs = await readAll(h.redis, h.output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ of: 'in-flight' })]);
      expect(handled).toEqual(['in-flight']);
      expect(c.counters.processed).toBe(1);
    });

    it('strands nothing when it lands during a burst: every entry is committed once or never delivered', async () => {
      const c = h.start({
        concurrency: 8,
        // Nothing may come back through a claim: whatever is pending afterwards was stranded.
        settings: { blockMs: 5000, claimIdleMs: 60_000 },
        handler: async (message) => {
          // Short enough that a refill read is nearly always in flight.
          await sleep(2 + Math.random() * 4);
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      const burst = h.redis.pipeline();
      for (let i = 0; i < 400; i += 1) {
        burst.xadd(h.input(), '*', ...eventFields(`b${i}`));
      }
      const ids = ((await burst.exec()) ?? []).map(([, id]) => id as string);
      await eventually(async () => (await h.redis.xlen(h.output())) >= 40, 10_000, 1);
      c.consumer.stopReading();
      await c.consumer.stop(Date.now() + 5000);

      const delivery = await h.deliveryState(h.input(), 'printery-validator');
      const causes = (await readAll(h.redis, h.output())).map((o) => o.fields.causationid);
      expect(delivery.pending).toBe(0);
      expect(new Set(causes).size).toBe(causes.length);
      expect(causes.length + delivery.undelivered).toBe(ids.length);
      expect(c.counters.processed).toBe(causes.length);
      expect(c.logger.events('consumer.read_cut')).toHaveLength(0);
    });

    it('handles an entry Redis hands to the blocked read just as reading stops, instead of stranding it', async () => {
      const handled: string[] = [];
      const c = h.start({
        concurrency: 2,
        settings: { blockMs: 5000, claimIdleMs: 60_000 },
        handler: async (message) => {
          handled.push(message.envelope.id);
          await sleep(50);
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('warm-up'));
      await eventually(async () => (await h.redis.xlen(h.output())) === 1);
      // Blocked on the empty stream again once the slot is free.
      await eventually(
        async () => ((await h.redis.client('LIST')) as string).includes('cmd=xreadgroup'),
        2000,
        5,
      );

      // The XADD is on the wire before stopReading() runs: Redis serves the
      // blocked read, and its reply is already on its way back.
      const added = h.redis.xadd(h.input(), '*', ...eventFields('racing'));
      c.consumer.stopReading();
      await added;
      await c.consumer.stop(Date.now() + 5000);

      const delivery = await h.deliveryState(h.input(), 'printery-validator');
      const outputs = await readAll(h.redis, h.output());
      expect(delivery.pending).toBe(0);
      // Either it was delivered and handled here, or the unblock came first and it was never read.
      expect(outputs.length + delivery.undelivered).toBe(2);
      expect(handled).toEqual(outputs.map((o) => o.fields.causationid));
      expect(c.logger.events('consumer.read_cut')).toHaveLength(0);
    });

    it('still reads and stops when an ACL forbids CLIENT, cutting the blocked read instead', async () => {
      await h.asAclUser('no-client', ['~*', '&*', '+@all', '-client'], async (url) => {
        const c = h.start({
          url,
          // Long blocking reads, no claim rounds: the stop finds a read in flight.
          settings: { blockMs: 5000, claimIdleMs: 60_000 },
          handler: okHandler,
        });
        await c.consumer.start(() => undefined);
        await h.redis.xadd(h.input(), '*', ...eventFields('with-acl'));
        await eventually(async () => (await h.redis.xlen(h.output())) === 1);
        expect(c.logger.events('consumer.client_id_unavailable')).toHaveLength(1);
        await eventually(
          async () => ((await h.redis.client('LIST')) as string).includes('cmd=xreadgroup'),
          2000,
          5,
        );

        const begun = performance.now();
        await c.consumer.stop(Date.now() + 5000);
        expect(performance.now() - begun).toBeLessThan(1000);
        expect(c.logger.events('consumer.read_cut')).toHaveLength(1);
      });
    });

    it('is a no-op before start', () => {
      const c = h.start({ handler: okHandler });
      expect(() => c.consumer.stopReading()).not.toThrow();
      expect(c.connections).toHaveLength(0);
    });
  });
});
