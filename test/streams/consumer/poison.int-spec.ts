import { InvalidEntryError } from '../../../src/errors/invalid-entry.error';
import { decodeDeadLetter } from '../../../src/streams/dead-letter';
import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount } from '../fixtures/build-consumer';
import { okHandler, recording, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// Poison entries, dead letters and replays.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:poison' });

  describe('with poison messages', () => {
    it('dead-letters a message that always fails after exactly MAX_DELIVERIES deliveries', async () => {
      const deliveries: number[] = [];
      const c = h.start({
        concurrency: 2,
        settings: { maxDeliveries: 3, claimIdleMs: 300 },
        handler: async (message) => {
          if (message.envelope.id === 'poison') {
            deliveries.push(message.deliveryCount);
            throw new Error('boom at https://user:hunter22@example.com/x');
          }
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      const poisonId = await h.redis.xadd(h.input(), '*', ...eventFields('poison'));

      await eventually(async () => (await h.redis.xlen(h.deadLetters())) === 1, 15_000);
      expect(deliveries).toEqual([1, 2, 3]);
      const [entry] = await h.redis.xrange(h.deadLetters(), '-', '+');
      const record = decodeDeadLetter(entry?.[1] ?? []);
      expect(record).toMatchObject({
        stream: h.input(),
        id: poisonId,
        group: 'printery-validator',
        worker: 'validator',
        reason: 'max_deliveries',
        deliveryCount: 3,
        fields: eventFields('poison'),
      });
      expect(record.error).toContain('boom');
      expect(record.error).not.toContain('hunter22');
      expect(Date.parse(record.time)).toBeGreaterThan(Date.now() - 60_000);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(0);
      expect(c.counters).toMatchObject({ failed: 3, deadLettered: 1 });
      expect(c.logger.events('message.dead_lettered')).toHaveLength(1);
      const metrics = await c.registry.getSingleMetricAsString('printery_dead_letters_total');
      expect(metrics).toContain('reason="max_deliveries"} 1');

      // The next good message still flows.
      await h.redis.xadd(h.input(), '*', ...eventFields('good-after'));
      await eventually(async () => (await h.redis.xlen(h.output())) === 1);
    });

    it('dead-letters malformed entries at once and keeps going', async () => {
      const handled: string[] = [];
      const c = h.start({
        concurrency: 1,
        settings: { maxEventBytes: 1024 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', 'type', 'deployment:started', 'data', '{}');
      await h.redis.xadd(h.input(), '*', 'id', 'bad-json', 'type', 't', 'data', '{nope');
      await h.redis.xadd(h.input(), '*', ...eventFields('too-big', { blob: 'x'.repeat(2000) }));
      await h.redis.xadd(h.input(), '*', ...eventFields('good'));

      await eventually(async () => (await h.redis.xlen(h.output())) === 1);
      await eventually(async () => (await h.redis.xlen(h.deadLetters())) === 3);
      expect(handled).toEqual(['good']);
      const records = (await h.redis.xrange(h.deadLetters(), '-', '+')).map(([, f]) =>
        decodeDeadLetter(f),
      );
      expect(records.map((r) => [r.reason, r.deliveryCount, r.error])).toEqual([
        ['malformed', 1, 'missing required field: id'],
        ['malformed', 1, 'data is not valid JSON'],
        ['malformed', 1, expect.stringMatching(/over MAX_EVENT_BYTES \(1024\)/)],
      ]);
      expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(0);
    });

    it('never trims the dead-letter stream to STREAM_MAXLEN', async () => {
      const c = h.start({
        concurrency: 4,
        settings: { maxLen: 5 },
        handler: (message) =>
          message.envelope.id.startsWith('bad')
            ? Promise.reject(new InvalidEntryError('no'))
            : okHandler(message),
      });
      await c.consumer.start(() => undefined);
      for (let i = 0; i < 300; i += 1) {
        await h.redis.xadd(h.input(), '*', ...eventFields(`bad-${i}`));
        await h.redis.xadd(h.input(), '*', ...eventFields(`good-${i}`));
      }
      await eventually(() => c.counters.processed + c.counters.deadLettered === 600, 20_000);
      expect(await h.redis.xlen(h.deadLetters())).toBe(300);
      // Outputs are still trimmed (approximately, as MAXLEN ~ does).
      expect(await h.redis.xlen(h.output())).toBeLessThan(300);
    });

    it('dead-letters at once when the handler throws InvalidEntryError', async () => {
      const c = h.start({
        handler: () => Promise.reject(new InvalidEntryError('deploymentId is missing')),
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('invalid'));
      await eventually(async () => (await h.redis.xlen(h.deadLetters())) === 1);
      const [entry] = await h.redis.xrange(h.deadLetters(), '-', '+');
      expect(decodeDeadLetter(entry?.[1] ?? [])).toMatchObject({
        reason: 'invalid',
        deliveryCount: 1,
        error: 'deploymentId is missing',
      });
      expect(c.counters.failed).toBe(0);
    });

    it('acks and counts entries deleted from the stream while pending', async () => {
      const c = h.start({
        concurrency: 1,
        settings: { claimIdleMs: 300 },
        handler: () => Promise.reject(new Error('not yet')),
      });
      await c.consumer.start(() => undefined);
      const id = await h.redis.xadd(h.input(), '*', ...eventFields('doomed'));
      await eventually(() => c.counters.failed === 1);
      await h.redis.xdel(h.input(), id as string);
      await eventually(
        async () => (await pendingCount(h.redis, h.input(), 'printery-validator')) === 0,
      );
      // XAUTOCLAIM drops the deleted id from the PEL itself; the consumer logs
      // and counts it after its own XACK round trip, a moment later.
      await eventually(() => c.logger.events('message.deleted_while_pending').length > 0);
      expect(c.logger.events('message.deleted_while_pending')).toHaveLength(1);
      expect(await c.registry.getSingleMetricAsString('printery_dead_letters_total')).toContain(
        'reason="deleted"} 1',
      );
    });
  });

  describe('with an entry `dlq replay` re-drove for one group', () => {
    it('is handled by that group only; other groups reading the stream ack it untouched', async () => {
      const stream = `${h.prefix}:${EVENT_TYPES.validationCompleted}`;
      const handledBy: Record<string, string[]> = { dependency: [], notifier: [] };
      const consumerOf = (worker: 'dependency' | 'notifier') =>
        h.start({
          worker,
          handler: (message) => {
            handledBy[worker]?.push(message.envelope.id);
            return Promise.resolve({ outcome: 'skipped' as const });
          },
        });
      const dependency = consumerOf('dependency');
      const notifier = consumerOf('notifier');
      await dependency.consumer.start(() => undefined);
      await notifier.consumer.start(() => undefined);

      await h.redis.xadd(stream, '*', ...eventFields('ordinary'));
      await h.redis.xadd(stream, '*', ...eventFields('replayed'), 'replayfor', 'printery-notifier');
      // Malformed, and replayed for the notifier: only the notifier dead-letters it.
      await h.redis.xadd(stream, '*', 'type', 'x', 'data', '{}', 'replayfor', 'printery-notifier');

      await eventually(
        async () =>
          (await pendingCount(h.redis, stream, 'printery-dependency')) === 0 &&
          (await pendingCount(h.redis, stream, 'printery-notifier')) === 0 &&
          dependency.counters.processed === 3 &&
          notifier.counters.processed + notifier.counters.deadLettered === 3,
      );
      expect(handledBy.dependency).toEqual(['ordinary']);
      expect(handledBy.notifier).toEqual(['ordinary', 'replayed']);
      const letters = (await h.redis.xrange(h.deadLetters(), '-', '+')).map(([, f]) =>
        decodeDeadLetter(f),
      );
      expect(letters.map((l) => [l.group, l.reason])).toEqual([['printery-notifier', 'malformed']]);
      expect(dependency.logger.events('message.replay_skipped')).toHaveLength(2);
    });
  });
});
