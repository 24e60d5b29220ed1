import { eventually } from '../../helpers/cli-process';
import { eventFields } from '../fixtures/build-consumer';
import { recording, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// A consumer group that vanishes while the consumer runs.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:group' });

  describe('when its group is destroyed while it runs', () => {
    it('recreates the group from its last committed id and keeps consuming', async () => {
      const handled: string[] = [];
      const c = h.start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('before-1'));
      await h.redis.xadd(h.input(), '*', ...eventFields('before-2'));
      await eventually(() => handled.length === 2);

      await h.redis.xgroup('DESTROY', h.input(), 'printery-validator');
      // Arrives while there is no group: `$` would drop it.
      await h.redis.xadd(h.input(), '*', ...eventFields('during'));
      await eventually(() => handled.includes('during'), 10_000);
      await h.redis.xadd(h.input(), '*', ...eventFields('after'));
      await eventually(() => handled.includes('after'));

      // Nothing replayed (`0` would have handled before-1/2 again).
      expect(handled).toEqual(['before-1', 'before-2', 'during', 'after']);
      const recreated = c.logger.events('group.recreated');
      expect(recreated).toHaveLength(1);
      expect(recreated[0]?.fields.fromId).toBeDefined();
      expect(c.consumer.health().healthy).toBe(true);
    });

    it('recreates from the id a previous consumer of the same worker committed', async () => {
      const handled: string[] = [];
      const handler = recording(handled);
      const first = h.start({ settings: { blockMs: 200 }, handler });
      await first.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('before-1'));
      const lastId = await h.redis.xadd(h.input(), '*', ...eventFields('before-2'));
      await eventually(() => handled.length === 2);
      await first.consumer.stop(Date.now() + 2000);

      // A supervisor restart: a new consumer, the worker's counters.
      const second = h.start({ settings: { blockMs: 200 }, handler, counters: first.counters });
      await second.consumer.start(() => undefined);
      await h.redis.xgroup('DESTROY', h.input(), 'printery-validator');
      await h.redis.xadd(h.input(), '*', ...eventFields('during'));
      await eventually(() => handled.includes('during'), 10_000);

      expect(handled).toEqual(['before-1', 'before-2', 'during']);
      const recreated = second.logger.events('group.recreated');
      expect(recreated.map((r) => r.fields.fromId)).toEqual([lastId]);
    });

    it('without a committed id, recreates at $ when the stream still holds entries and says so', async () => {
      const handled: string[] = [];
      await h.redis.xadd(h.input(), '*', ...eventFields('history-1'));
      await h.redis.xadd(h.input(), '*', ...eventFields('history-2'));
      // Already consumed by an earlier run: the group starts past the history.
      await h.redis.xgroup('CREATE', h.input(), 'printery-validator', '$');
      const c = h.start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await h.redis.xgroup('DESTROY', h.input(), 'printery-validator');
      await eventually(() => c.logger.events('stream.group_recreated').length === 1, 10_000);
      await h.redis.xadd(h.input(), '*', ...eventFields('after'));
      await eventually(() => handled.includes('after'));

      // The history is not replayed.
      expect(handled).toEqual(['after']);
      const [line] = c.logger.events('stream.group_recreated');
      expect(line?.level).toBe('error');
      expect(line?.fields).toMatchObject({
        startId: '$',
        stream: h.input(),
        group: 'printery-validator',
      });
      expect(line?.message).toMatch(/XGROUP SETID/);
    });

    it('without a committed id, recreates at 0 when the stream is gone, so nothing new is lost', async () => {
      const handled: string[] = [];
      const c = h.start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      // As after a restart without persistence: stream and group are gone.
      await h.redis.del(h.input());
      await eventually(() => c.logger.events('group.recreated').length === 1, 10_000);
      await h.redis.xadd(h.input(), '*', ...eventFields('fresh'));
      await eventually(() => handled.includes('fresh'));

      expect(handled).toEqual(['fresh']);
      expect(c.logger.events('group.recreated')[0]?.fields.fromId).toBe('0');
      expect(c.logger.events('stream.group_recreated')).toHaveLength(0);
    });
  });
});
