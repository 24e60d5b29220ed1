import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount, readAll, sleep } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

/** Calls of the commit script in INFO commandstats: EVAL on a connection's first, EVALSHA after. */
function scriptCalls(stats: string): number {
  const calls = (command: string): number =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls('eval') + calls('evalsha');
}

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
// Batches: concurrency, the shared MULTI and its partial failures.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:batch' });

  describe('with a batch of messages', () => {
    it('processes each exactly once and never runs more handlers than its concurrency', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const seen: string[] = [];
      const c = h.start({
        concurrency: 4,
        handler: async (message) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          seen.push(message.envelope.id);
          await sleep(5 + Math.random() * 20);
          inFlight -= 1;
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      for (let i = 0; i < 60; i += 1) {
        await h.redis.xadd(h.input(), '*', ...eventFields(`e${i}`));
      }
      await eventually(async () => (await h.redis.xlen(h.output())) >= 60, 20_000);
      await eventually(
        async () => (await pendingCount(h.redis, h.input(), 'printery-validator')) === 0,
      );

      const outputs = await readAll(h.redis, h.output());
      const causes = outputs.map((o) => o.fields.causationid);
      expect(new Set(causes).size).toBe(60);
      expect(outputs).toHaveLength(60);
      expect(seen).toHaveLength(60);
      expect(maxInFlight).toBe(4);
      expect(c.counters).toMatchObject({ processed: 60, failed: 0, deadLettered: 0 });
      expect(c.consumer.health()).toMatchObject({ healthy: true, inFlight: 0 });
      const first = outputs[0]?.fields ?? {};
      expect(first).toMatchObject({
        specversion: '1.0',
        type: 'validation:completed',
        source: 'printery/validator',
        datacontenttype: 'application/json',
      });
      expect(first.subject).toBe(first.causationid);
    });

    it('commits entries read together in one script call, each with its own outputs and ack', async () => {
      // A notifier batch across three streams: skipped entries (ack only),
      // entries with two outputs, and one whose output key has the wrong
      // type, so its XADD fails inside the MULTI while Redis applies the rest.
      const broken = `${h.prefix}:${EVENT_TYPES.deploymentStarted}`;
      await h.redis.set(broken, 'not a stream');
      const streams = [
        EVENT_TYPES.validationCompleted,
        EVENT_TYPES.dependencyChecked,
        EVENT_TYPES.healthChecked,
      ].map((type) => `${h.prefix}:${type}`);
      const c = h.start({
        worker: 'notifier',
        concurrency: 20,
        handler: (message) => {
          const id = message.envelope.id;
          if (id.startsWith('skip')) {
            return Promise.resolve({ outcome: 'skipped' as const });
          }
          const type = id.startsWith('bad')
            ? EVENT_TYPES.deploymentStarted
            : EVENT_TYPES.notificationSent;
          return Promise.resolve({
            outcome: 'ok' as const,
            outputs: [
              { type, data: { of: id, n: 1 } },
              { type, data: { of: id, n: 2 } },
            ],
          });
        },
      });
      const pipeline = h.redis.pipeline();
      const kinds = ['two', 'skip', 'two', 'bad', 'skip', 'two'];
      kinds.forEach((kind, i) => {
        pipeline.xadd(streams[i % 3] as string, '*', ...eventFields(`${kind}-${i}`));
      });
      const entryIds = ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
      await h.redis.config('RESETSTAT');
      await c.consumer.start(() => undefined);

      await eventually(() => c.counters.processed === kinds.length);
      const sent = await readAll(h.redis, `${h.prefix}:${EVENT_TYPES.notificationSent}`);
      expect(sent.map((o) => JSON.parse(o.fields.data ?? '{}') as unknown)).toEqual([
        { of: 'two-0', n: 1 },
        { of: 'two-0', n: 2 },
        { of: 'two-2', n: 1 },
        { of: 'two-2', n: 2 },
        { of: 'two-5', n: 1 },
        { of: 'two-5', n: 2 },
      ]);
      for (const stream of streams) {
        expect(await pendingCount(h.redis, stream, 'printery-notifier')).toBe(0);
      }
      const partial = c.logger.events('message.commit_partial');
      expect(partial.map((l) => l.fields.entryId)).toEqual([entryIds[3]]);
      expect(String(partial[0]?.fields.err)).toMatch(/WRONGTYPE/);
      // One read, one commit: a single script call carried all six entries.
      const stats = await h.redis.info('commandstats');
      expect(scriptCalls(stats)).toBe(1);
      expect(stats).not.toMatch(/cmdstat_exec:/);
      expect(stats).toMatch(/cmdstat_xack:calls=3,/);
    });

    it('gathers the commits of handlers that finish in separate callbacks into few calls', async () => {
      // Handlers that wake on a timer (or an HTTP reply) each finish in a
      // callback of their own; their commits must still share round trips.
      const c = h.start({
        concurrency: 50,
        handler: async (message) => {
          await sleep(1);
          return okHandler(message);
        },
      });
      const pipeline = h.redis.pipeline();
      for (let i = 0; i < 200; i += 1) {
        pipeline.xadd(h.input(), '*', ...eventFields(`e${i}`));
      }
      await pipeline.exec();
      await h.redis.config('RESETSTAT');
      await c.consumer.start(() => undefined);

      await eventually(() => c.counters.processed === 200);
      expect(scriptCalls(await h.redis.info('commandstats'))).toBeLessThan(50);
      expect(await h.redis.xlen(h.output())).toBe(200);
    });

    it('commits the rest of a batch when Redis refuses some of its writes outright', async () => {
      // An ACL that allows only the input and validation streams: one
      // entry's output and a malformed entry's dead letter are refused at
      // queue time. Redis then discards the whole shared MULTI (EXECABORT);
      // the good entries must still be committed without a retry, and the
      // refused ones must report Redis's own reason.
      await h.asAclUser(
        'narrow',
        [`~${h.prefix}:deployment:*`, `~${h.prefix}:validation:*`, '&*', '+@all'],
        async (url) => {
          const c = h.start({
            url,
            concurrency: 10,
            handler: (message) =>
              Promise.resolve({
                outcome: 'ok' as const,
                outputs: [
                  {
                    type: message.envelope.id.startsWith('denied')
                      ? EVENT_TYPES.dependencyChecked
                      : EVENT_TYPES.validationCompleted,
                    data: { of: message.envelope.id },
                  },
                ],
              }),
          });
          const pipeline = h.redis.pipeline();
          pipeline.xadd(h.input(), '*', ...eventFields('good-1'));
          pipeline.xadd(h.input(), '*', ...eventFields('denied-1'));
          pipeline.xadd(h.input(), '*', 'type', 'deployment:started', 'data', '{}');
          pipeline.xadd(h.input(), '*', ...eventFields('good-2'));
          const entryIds = ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
          await c.consumer.start(() => undefined);

          await eventually(async () => (await h.redis.xlen(h.output())) === 2);
          const outputs = await readAll(h.redis, h.output());
          expect(outputs.map((o) => o.fields.causationid).sort()).toEqual(['good-1', 'good-2']);
          await eventually(() => c.logger.events('message.commit_retry').length >= 3);
          const retries = c.logger.events('message.commit_retry');
          // Only the refused entries retry, each with Redis's own reason.
          expect(new Set(retries.map((l) => l.fields.entryId))).toEqual(
            new Set([entryIds[1], entryIds[2]]),
          );
          for (const line of retries) {
            expect(String(line.fields.err)).toMatch(/NOPERM/);
          }
          expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(2);
          expect(await h.redis.xlen(h.deadLetters())).toBe(0);
          expect(c.counters.processed).toBe(2);
        },
      );
    });

    it('reads several streams in one group without exceeding its concurrency', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const c = h.start({
        worker: 'notifier',
        concurrency: 2,
        handler: async () => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await sleep(10);
          inFlight -= 1;
          return { outcome: 'skipped' };
        },
      });
      await c.consumer.start(() => undefined);
      const streams = [
        EVENT_TYPES.validationCompleted,
        EVENT_TYPES.dependencyChecked,
        EVENT_TYPES.healthChecked,
      ].map((type) => `${h.prefix}:${type}`);
      for (let i = 0; i < 10; i += 1) {
        for (const stream of streams) {
          await h.redis.xadd(stream, '*', ...eventFields(`${stream}-${i}`));
        }
      }
      await eventually(() => c.counters.processed === 30, 15_000);
      expect(maxInFlight).toBe(2);
      for (const stream of streams) {
        expect(await pendingCount(h.redis, stream, 'printery-notifier')).toBe(0);
      }
    });
  });
});
