import type Redis from 'ioredis';
import { InvalidEntryError } from '../../src/errors/invalid-entry.error';
import { decodeDeadLetter } from '../../src/streams/dead-letter';
import type { InboundMessage } from '../../src/streams/handler';
import { compareStreamIds } from '../../src/streams/stream-ids';
import { EVENT_TYPES } from '../../src/streams/topology';
import { eventually } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import {
  type TestConsumer,
  buildConsumer,
  eventFields,
  pendingCount,
  readAll,
  sleep,
} from './fixtures/build-consumer';

// Real: redis-server (own port), ioredis connections, prom-client metrics.
// Handlers are test doubles; the logger keeps lines in memory.
describe('StreamConsumer', () => {
  let server: RedisServer;
  let redis: Redis;
  let running: TestConsumer[] = [];
  let prefixNo = 0;
  let prefix: string;

  const input = (): string => `${prefix}:${EVENT_TYPES.deploymentStarted}`;
  const output = (): string => `${prefix}:${EVENT_TYPES.validationCompleted}`;
  const deadLetters = (): string => `${prefix}:dead-letter`;

  function start(options: Omit<Parameters<typeof buildConsumer>[0], 'url' | 'prefix'>) {
    const built = buildConsumer({ url: server.url, prefix, ...options });
    running.push(built);
    return built;
  }

  const okHandler = (message: InboundMessage) =>
    Promise.resolve({
      outcome: 'ok' as const,
      outputs: [{ type: EVENT_TYPES.validationCompleted, data: { of: message.envelope.id } }],
    });

  /** okHandler that also notes each envelope id it is given, in order, into `handled`. */
  const recording =
    (handled: string[]) =>
    (message: InboundMessage): ReturnType<typeof okHandler> => {
      handled.push(message.envelope.id);
      return okHandler(message);
    };

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
  });

  afterAll(async () => {
    redis.disconnect();
    await server.dispose();
  });

  beforeEach(() => {
    prefixNo += 1;
    prefix = `test:consumer:${prefixNo}`;
  });

  afterEach(async () => {
    await Promise.all(running.map((r) => r.consumer.stop(Date.now() + 2000)));
    running = [];
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) {
      await redis.del(...keys);
    }
  });

  /** Runs `body` with the URL of a throwaway ACL user holding `rules`, removed afterwards. */
  async function asAclUser(
    name: string,
    rules: string[],
    body: (url: string) => Promise<void>,
  ): Promise<void> {
    const user = `${name}-${prefixNo}`;
    await redis.call('ACL', 'SETUSER', user, 'on', '>secret', ...rules);
    try {
      const url = new URL(server.url);
      url.username = user;
      url.password = 'secret';
      await body(url.toString());
    } finally {
      await redis.call('ACL', 'DELUSER', user);
    }
  }

  /** The group's pending count and how many stream entries lie past its last-delivered-id. */
  async function deliveryState(
    stream: string,
    group: string,
  ): Promise<{ pending: number; undelivered: number }> {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const info = groups
      .map((row) => {
        const fields: Record<string, unknown> = {};
        for (let i = 0; i + 1 < row.length; i += 2) {
          fields[String(row[i])] = row[i + 1];
        }
        return fields;
      })
      .find((fields) => fields.name === group);
    const lastDelivered = String(info?.['last-delivered-id']);
    const entries = await redis.xrange(stream, '-', '+');
    return {
      pending: await pendingCount(redis, stream, group),
      undelivered: entries.filter(([id]) => compareStreamIds(id, lastDelivered) > 0).length,
    };
  }

  describe('with a batch of messages', () => {
    it('processes each exactly once and never runs more handlers than its concurrency', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const seen: string[] = [];
      const c = start({
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
        await redis.xadd(input(), '*', ...eventFields(`e${i}`));
      }
      await eventually(async () => (await redis.xlen(output())) >= 60, 20_000);
      await eventually(
        async () => (await pendingCount(redis, input(), 'printery-validator')) === 0,
      );

      const outputs = await readAll(redis, output());
      const causes = outputs.map((o) => o.fields.causationid);
      console.log(`max in flight: ${maxInFlight} (concurrency 4)`);
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

    it('commits entries read together in one MULTI, each with its own outputs and ack', async () => {
      // A notifier batch across three streams: skipped entries (ack only),
      // entries with two outputs, and one whose output key has the wrong
      // type, so its XADD fails inside the MULTI while Redis applies the rest.
      const broken = `${prefix}:${EVENT_TYPES.deploymentStarted}`;
      await redis.set(broken, 'not a stream');
      const streams = [
        EVENT_TYPES.validationCompleted,
        EVENT_TYPES.dependencyChecked,
        EVENT_TYPES.healthChecked,
      ].map((type) => `${prefix}:${type}`);
      const c = start({
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
      const pipeline = redis.pipeline();
      const kinds = ['two', 'skip', 'two', 'bad', 'skip', 'two'];
      kinds.forEach((kind, i) => {
        pipeline.xadd(streams[i % 3] as string, '*', ...eventFields(`${kind}-${i}`));
      });
      const entryIds = ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
      await redis.config('RESETSTAT');
      await c.consumer.start(() => undefined);

      await eventually(() => c.counters.processed === kinds.length);
      const sent = await readAll(redis, `${prefix}:${EVENT_TYPES.notificationSent}`);
      expect(sent.map((o) => JSON.parse(o.fields.data ?? '{}') as unknown)).toEqual([
        { of: 'two-0', n: 1 },
        { of: 'two-0', n: 2 },
        { of: 'two-2', n: 1 },
        { of: 'two-2', n: 2 },
        { of: 'two-5', n: 1 },
        { of: 'two-5', n: 2 },
      ]);
      for (const stream of streams) {
        expect(await pendingCount(redis, stream, 'printery-notifier')).toBe(0);
      }
      const partial = c.logger.events('message.commit_partial');
      expect(partial.map((l) => l.fields.entryId)).toEqual([entryIds[3]]);
      expect(String(partial[0]?.fields.err)).toMatch(/WRONGTYPE/);
      // One read, one commit: a single MULTI…EXEC carried all six entries.
      const stats = await redis.info('commandstats');
      expect(stats).toMatch(/cmdstat_exec:calls=1,/);
      expect(stats).toMatch(/cmdstat_xack:calls=3,/);
    });

    it('gathers the commits of handlers that finish in separate callbacks into few MULTIs', async () => {
      // Handlers that wake on a timer (or an HTTP reply) each finish in a
      // callback of their own; their commits must still share round trips.
      const c = start({
        concurrency: 50,
        handler: async (message) => {
          await sleep(1);
          return okHandler(message);
        },
      });
      const pipeline = redis.pipeline();
      for (let i = 0; i < 200; i += 1) {
        pipeline.xadd(input(), '*', ...eventFields(`e${i}`));
      }
      await pipeline.exec();
      await redis.config('RESETSTAT');
      await c.consumer.start(() => undefined);

      await eventually(() => c.counters.processed === 200);
      const execs = Number(/cmdstat_exec:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1]);
      console.log(`200 entries from timer-waking handlers committed in ${execs} MULTIs`);
      expect(execs).toBeLessThan(50);
      expect(await redis.xlen(output())).toBe(200);
    });

    it('commits the rest of a batch when Redis refuses some of its writes outright', async () => {
      // An ACL that allows only the input and validation streams: one
      // entry's output and a malformed entry's dead letter are refused at
      // queue time. Redis then discards the whole shared MULTI (EXECABORT);
      // the good entries must still be committed without a retry, and the
      // refused ones must report Redis's own reason.
      await asAclUser(
        'narrow',
        [`~${prefix}:deployment:*`, `~${prefix}:validation:*`, '&*', '+@all'],
        async (url) => {
          const c = buildConsumer({
            url,
            prefix,
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
          running.push(c);
          const pipeline = redis.pipeline();
          pipeline.xadd(input(), '*', ...eventFields('good-1'));
          pipeline.xadd(input(), '*', ...eventFields('denied-1'));
          pipeline.xadd(input(), '*', 'type', 'deployment:started', 'data', '{}');
          pipeline.xadd(input(), '*', ...eventFields('good-2'));
          const entryIds = ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
          await c.consumer.start(() => undefined);

          await eventually(async () => (await redis.xlen(output())) === 2);
          const outputs = await readAll(redis, output());
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
          expect(await pendingCount(redis, input(), 'printery-validator')).toBe(2);
          expect(await redis.xlen(deadLetters())).toBe(0);
          expect(c.counters.processed).toBe(2);
        },
      );
    });

    it('reads several streams in one group without exceeding its concurrency', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const c = start({
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
      ].map((type) => `${prefix}:${type}`);
      for (let i = 0; i < 10; i += 1) {
        for (const stream of streams) {
          await redis.xadd(stream, '*', ...eventFields(`${stream}-${i}`));
        }
      }
      await eventually(() => c.counters.processed === 30, 15_000);
      expect(maxInFlight).toBe(2);
      for (const stream of streams) {
        expect(await pendingCount(redis, stream, 'printery-notifier')).toBe(0);
      }
    });
  });

  describe('when a handler is slower than CLAIM_IDLE_MS', () => {
    it('keeps its claim alive so another consumer does not steal the message', async () => {
      const handledBy: string[] = [];
      const slow = start({
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
      await redis.xadd(input(), '*', ...eventFields('long-1'));
      await eventually(() => handledBy.length === 1);
      const thief = start({
        consumerName: 'thief',
        concurrency: 1,
        settings: { claimIdleMs: 600 },
        handler: async (message) => {
          handledBy.push('thief');
          return okHandler(message);
        },
      });
      await thief.consumer.start(() => undefined);

      await eventually(async () => (await redis.xlen(output())) === 1, 10_000);
      // Several claim rounds of the thief have passed by now.
      expect(handledBy).toEqual(['slow']);
      expect(thief.logger.events('message.claimed')).toHaveLength(0);
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(0);
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
      const a = start({
        consumerName: 'A',
        settings: { claimIdleMs: 600 },
        handler: handlerOf('A', true),
      });
      await a.consumer.start(() => undefined);
      const id = (await redis.xadd(input(), '*', ...eventFields('contested'))) as string;
      await eventually(() => handledBy.length === 1);
      const b = start({
        consumerName: 'B',
        settings: { claimIdleMs: 600 },
        handler: handlerOf('B', false),
      });
      await b.consumer.start(() => undefined);

      // As if A's connection had been down past CLAIM_IDLE_MS and B had reclaimed it.
      await redis.xclaim(input(), 'printery-validator', 'B', 0, id, 'JUSTID');
      await eventually(() => a.logger.events('message.claim_lost').length === 1);
      expect(a.logger.events('message.claim_lost')[0]?.level).toBe('warn');
      // B keeps it and handles it once it is idle long enough for B's own claim round.
      await eventually(() => handledBy.includes('B'), 10_000);
      await eventually(async () => (await redis.xlen(output())) === 1);

      releaseA();
      await eventually(() => a.logger.events('message.commit_abandoned').length === 1);
      const outputs = await readAll(redis, output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ by: 'B' })]);
      expect(a.counters.processed).toBe(0);
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(0);
    });
  });

  describe('with poison messages', () => {
    it('dead-letters a message that always fails after exactly MAX_DELIVERIES deliveries', async () => {
      const deliveries: number[] = [];
      const c = start({
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
      const poisonId = await redis.xadd(input(), '*', ...eventFields('poison'));

      await eventually(async () => (await redis.xlen(deadLetters())) === 1, 15_000);
      expect(deliveries).toEqual([1, 2, 3]);
      const [entry] = await redis.xrange(deadLetters(), '-', '+');
      const record = decodeDeadLetter(entry?.[1] ?? []);
      expect(record).toMatchObject({
        stream: input(),
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
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(0);
      expect(c.counters).toMatchObject({ failed: 3, deadLettered: 1 });
      expect(c.logger.events('message.dead_lettered')).toHaveLength(1);
      const metrics = await c.registry.getSingleMetricAsString('printery_dead_letters_total');
      expect(metrics).toContain('reason="max_deliveries"} 1');

      // The next good message still flows.
      await redis.xadd(input(), '*', ...eventFields('good-after'));
      await eventually(async () => (await redis.xlen(output())) === 1);
    });

    it('dead-letters malformed entries at once and keeps going', async () => {
      const handled: string[] = [];
      const c = start({
        concurrency: 1,
        settings: { maxEventBytes: 1024 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', 'type', 'deployment:started', 'data', '{}');
      await redis.xadd(input(), '*', 'id', 'bad-json', 'type', 't', 'data', '{nope');
      await redis.xadd(input(), '*', ...eventFields('too-big', { blob: 'x'.repeat(2000) }));
      await redis.xadd(input(), '*', ...eventFields('good'));

      await eventually(async () => (await redis.xlen(output())) === 1);
      await eventually(async () => (await redis.xlen(deadLetters())) === 3);
      expect(handled).toEqual(['good']);
      const records = (await redis.xrange(deadLetters(), '-', '+')).map(([, f]) =>
        decodeDeadLetter(f),
      );
      expect(records.map((r) => [r.reason, r.deliveryCount, r.error])).toEqual([
        ['malformed', 1, 'missing required field: id'],
        ['malformed', 1, 'data is not valid JSON'],
        ['malformed', 1, expect.stringMatching(/over MAX_EVENT_BYTES \(1024\)/)],
      ]);
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(0);
    });

    it('never trims the dead-letter stream to STREAM_MAXLEN', async () => {
      const c = start({
        concurrency: 4,
        settings: { maxLen: 5 },
        handler: (message) =>
          message.envelope.id.startsWith('bad')
            ? Promise.reject(new InvalidEntryError('no'))
            : okHandler(message),
      });
      await c.consumer.start(() => undefined);
      for (let i = 0; i < 300; i += 1) {
        await redis.xadd(input(), '*', ...eventFields(`bad-${i}`));
        await redis.xadd(input(), '*', ...eventFields(`good-${i}`));
      }
      await eventually(() => c.counters.processed + c.counters.deadLettered === 600, 20_000);
      expect(await redis.xlen(deadLetters())).toBe(300);
      // Outputs are still trimmed (approximately, as MAXLEN ~ does).
      expect(await redis.xlen(output())).toBeLessThan(300);
    });

    it('dead-letters at once when the handler throws InvalidEntryError', async () => {
      const c = start({
        handler: () => Promise.reject(new InvalidEntryError('deploymentId is missing')),
      });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('invalid'));
      await eventually(async () => (await redis.xlen(deadLetters())) === 1);
      const [entry] = await redis.xrange(deadLetters(), '-', '+');
      expect(decodeDeadLetter(entry?.[1] ?? [])).toMatchObject({
        reason: 'invalid',
        deliveryCount: 1,
        error: 'deploymentId is missing',
      });
      expect(c.counters.failed).toBe(0);
    });

    it('acks and counts entries deleted from the stream while pending', async () => {
      const c = start({
        concurrency: 1,
        settings: { claimIdleMs: 300 },
        handler: () => Promise.reject(new Error('not yet')),
      });
      await c.consumer.start(() => undefined);
      const id = await redis.xadd(input(), '*', ...eventFields('doomed'));
      await eventually(() => c.counters.failed === 1);
      await redis.xdel(input(), id as string);
      await eventually(
        async () => (await pendingCount(redis, input(), 'printery-validator')) === 0,
      );
      expect(c.logger.events('message.deleted_while_pending')).toHaveLength(1);
      expect(await c.registry.getSingleMetricAsString('printery_dead_letters_total')).toContain(
        'reason="deleted"} 1',
      );
    });
  });

  describe('with an entry `dlq replay` re-drove for one group', () => {
    it('is handled by that group only; other groups reading the stream ack it untouched', async () => {
      const stream = `${prefix}:${EVENT_TYPES.validationCompleted}`;
      const handledBy: Record<string, string[]> = { dependency: [], notifier: [] };
      const consumerOf = (worker: 'dependency' | 'notifier') =>
        start({
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

      await redis.xadd(stream, '*', ...eventFields('ordinary'));
      await redis.xadd(stream, '*', ...eventFields('replayed'), 'replayfor', 'printery-notifier');
      // Malformed, and replayed for the notifier: only the notifier dead-letters it.
      await redis.xadd(stream, '*', 'type', 'x', 'data', '{}', 'replayfor', 'printery-notifier');

      await eventually(
        async () =>
          (await pendingCount(redis, stream, 'printery-dependency')) === 0 &&
          (await pendingCount(redis, stream, 'printery-notifier')) === 0 &&
          dependency.counters.processed === 3 &&
          notifier.counters.processed + notifier.counters.deadLettered === 3,
      );
      expect(handledBy.dependency).toEqual(['ordinary']);
      expect(handledBy.notifier).toEqual(['ordinary', 'replayed']);
      const letters = (await redis.xrange(deadLetters(), '-', '+')).map(([, f]) =>
        decodeDeadLetter(f),
      );
      expect(letters.map((l) => [l.group, l.reason])).toEqual([['printery-notifier', 'malformed']]);
      expect(dependency.logger.events('message.replay_skipped')).toHaveLength(2);
    });
  });

  describe('when a handler overruns its timeout', () => {
    it('aborts its signal, counts a failure and reports itself unhealthy until it settles', async () => {
      let aborted = false;
      let release: () => void = () => undefined;
      const c = start({
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
      await redis.xadd(input(), '*', ...eventFields('stuck'));
      await eventually(() => c.counters.failed === 1);
      expect(aborted).toBe(true);
      expect(c.consumer.health()).toMatchObject({ healthy: false, inFlight: 1 });
      expect(c.consumer.health().reason).toMatch(/exceeded the 200ms timeout/);
      release();
      await eventually(() => c.consumer.health().healthy);
      // The late result is not committed: the entry stays pending for a retry.
      expect(await redis.xlen(output())).toBe(0);
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(1);
    });
  });

  describe('stopReading()', () => {
    it('takes no new work at once, lets in-flight handlers finish and stop() commits them', async () => {
      const handled: string[] = [];
      let release: () => void = () => undefined;
      const c = start({
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
      await redis.xadd(input(), '*', ...eventFields('in-flight'));
      await eventually(() => handled.length === 1);

      const begun = performance.now();
      c.consumer.stopReading();
      c.consumer.stopReading();
      expect(performance.now() - begun).toBeLessThan(50);
      // The blocked XREADGROUP does not keep its connection.
      const read = c.connection('read');
      await eventually(() => read?.status === 'end', 1000);
      expect(c.consumer.health()).toMatchObject({ healthy: false, reason: 'stopping' });

      await redis.xadd(input(), '*', ...eventFields('arrived-later'));
      await sleep(300);
      expect(handled).toEqual(['in-flight']);

      const stopped = c.consumer.stop(Date.now() + 5000);
      release();
      await stopped;
      const outputs = await readAll(redis, output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ of: 'in-flight' })]);
      expect(handled).toEqual(['in-flight']);
      expect(c.counters.processed).toBe(1);
    });

    it('strands nothing when it lands during a burst: every entry is committed once or never delivered', async () => {
      const c = start({
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
      const burst = redis.pipeline();
      for (let i = 0; i < 400; i += 1) {
        burst.xadd(input(), '*', ...eventFields(`b${i}`));
      }
      const ids = ((await burst.exec()) ?? []).map(([, id]) => id as string);
      await eventually(async () => (await redis.xlen(output())) >= 40, 10_000, 1);
      c.consumer.stopReading();
      await c.consumer.stop(Date.now() + 5000);

      const delivery = await deliveryState(input(), 'printery-validator');
      const causes = (await readAll(redis, output())).map((o) => o.fields.causationid);
      console.log(
        `stop during a burst: ${causes.length} committed, ${delivery.pending} pending, ${delivery.undelivered} never delivered`,
      );
      expect(delivery.pending).toBe(0);
      expect(new Set(causes).size).toBe(causes.length);
      expect(causes.length + delivery.undelivered).toBe(ids.length);
      expect(c.counters.processed).toBe(causes.length);
      expect(c.logger.events('consumer.read_cut')).toHaveLength(0);
    });

    it('handles an entry Redis hands to the blocked read just as reading stops, instead of stranding it', async () => {
      const handled: string[] = [];
      const c = start({
        concurrency: 2,
        settings: { blockMs: 5000, claimIdleMs: 60_000 },
        handler: async (message) => {
          handled.push(message.envelope.id);
          await sleep(50);
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('warm-up'));
      await eventually(async () => (await redis.xlen(output())) === 1);
      // Blocked on the empty stream again once the slot is free.
      await eventually(
        async () => ((await redis.client('LIST')) as string).includes('cmd=xreadgroup'),
        2000,
        5,
      );

      // The XADD is on the wire before stopReading() runs: Redis serves the
      // blocked read, and its reply is already on its way back.
      const added = redis.xadd(input(), '*', ...eventFields('racing'));
      c.consumer.stopReading();
      await added;
      await c.consumer.stop(Date.now() + 5000);

      const delivery = await deliveryState(input(), 'printery-validator');
      const outputs = await readAll(redis, output());
      expect(delivery.pending).toBe(0);
      // Either it was delivered and handled here, or the unblock came first and it was never read.
      expect(outputs.length + delivery.undelivered).toBe(2);
      expect(handled).toEqual(outputs.map((o) => o.fields.causationid));
      expect(c.logger.events('consumer.read_cut')).toHaveLength(0);
    });

    it('still reads and stops when an ACL forbids CLIENT, cutting the blocked read instead', async () => {
      await asAclUser('no-client', ['~*', '&*', '+@all', '-client'], async (url) => {
        const c = buildConsumer({
          url,
          prefix,
          // Long blocking reads, no claim rounds: the stop finds a read in flight.
          settings: { blockMs: 5000, claimIdleMs: 60_000 },
          handler: okHandler,
        });
        running.push(c);
        await c.consumer.start(() => undefined);
        await redis.xadd(input(), '*', ...eventFields('with-acl'));
        await eventually(async () => (await redis.xlen(output())) === 1);
        expect(c.logger.events('consumer.client_id_unavailable')).toHaveLength(1);
        await eventually(
          async () => ((await redis.client('LIST')) as string).includes('cmd=xreadgroup'),
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
      const c = start({ handler: okHandler });
      expect(() => c.consumer.stopReading()).not.toThrow();
      expect(c.connections).toHaveLength(0);
    });
  });

  describe('stop()', () => {
    it('returns in well under a second while blocked on an empty stream', async () => {
      const c = start({ settings: { blockMs: 5000 }, handler: okHandler });
      await c.consumer.start(() => undefined);
      // The first read is issued right after the initial claim round.
      await sleep(200);
      const begun = performance.now();
      await c.consumer.stop(Date.now() + 10_000);
      const took = performance.now() - begun;
      console.log(`idle stop took ${took.toFixed(1)}ms`);
      expect(took).toBeLessThan(500);
      expect(c.connections.every((conn) => conn.status === 'end')).toBe(true);
    });

    it('leaves nothing running when it lands while start() is still creating groups', async () => {
      const c = start({ worker: 'notifier', handler: okHandler });
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
      await redis.xadd(`${prefix}:${EVENT_TYPES.healthChecked}`, '*', ...eventFields('late'));
      await sleep(300);
      expect(c.counters.processed).toBe(0);
    });

    it('is idempotent', async () => {
      const c = start({ handler: okHandler });
      await c.consumer.start(() => undefined);
      const first = c.consumer.stop(Date.now() + 1000);
      expect(c.consumer.stop(Date.now() + 1000)).toBe(first);
      await first;
    });

    it('waits for slow handlers up to the deadline and leaves unfinished ones pending', async () => {
      const c = start({
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
      await redis.xadd(input(), '*', ...eventFields('quick'));
      await redis.xadd(input(), '*', ...eventFields('slow'));
      await eventually(() => c.consumer.health().inFlight === 2);

      const begun = Date.now();
      await c.consumer.stop(begun + 2000);
      const took = Date.now() - begun;
      // Handlers get the time left minus a slice kept for closing; the stop ends by the deadline.
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThanOrEqual(2050);
      const outputs = await readAll(redis, output());
      expect(outputs.map((o) => o.fields.data)).toEqual([JSON.stringify({ of: 'quick' })]);
      expect(await pendingCount(redis, input(), 'printery-validator')).toBe(1);
    });
  });

  describe('when its group is destroyed while it runs', () => {
    it('recreates the group from its last committed id and keeps consuming', async () => {
      const handled: string[] = [];
      const c = start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('before-1'));
      await redis.xadd(input(), '*', ...eventFields('before-2'));
      await eventually(() => handled.length === 2);

      await redis.xgroup('DESTROY', input(), 'printery-validator');
      // Arrives while there is no group: `$` would drop it.
      await redis.xadd(input(), '*', ...eventFields('during'));
      await eventually(() => handled.includes('during'), 10_000);
      await redis.xadd(input(), '*', ...eventFields('after'));
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
      const first = start({ settings: { blockMs: 200 }, handler });
      await first.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('before-1'));
      const lastId = await redis.xadd(input(), '*', ...eventFields('before-2'));
      await eventually(() => handled.length === 2);
      await first.consumer.stop(Date.now() + 2000);

      // A supervisor restart: a new consumer, the worker's counters.
      const second = start({ settings: { blockMs: 200 }, handler, counters: first.counters });
      await second.consumer.start(() => undefined);
      await redis.xgroup('DESTROY', input(), 'printery-validator');
      await redis.xadd(input(), '*', ...eventFields('during'));
      await eventually(() => handled.includes('during'), 10_000);

      expect(handled).toEqual(['before-1', 'before-2', 'during']);
      const recreated = second.logger.events('group.recreated');
      expect(recreated.map((r) => r.fields.fromId)).toEqual([lastId]);
    });

    it('without a committed id, recreates at $ when the stream still holds entries and says so', async () => {
      const handled: string[] = [];
      await redis.xadd(input(), '*', ...eventFields('history-1'));
      await redis.xadd(input(), '*', ...eventFields('history-2'));
      // Already consumed by an earlier run: the group starts past the history.
      await redis.xgroup('CREATE', input(), 'printery-validator', '$');
      const c = start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      await redis.xgroup('DESTROY', input(), 'printery-validator');
      await eventually(() => c.logger.events('stream.group_recreated').length === 1, 10_000);
      await redis.xadd(input(), '*', ...eventFields('after'));
      await eventually(() => handled.includes('after'));

      // The history is not replayed.
      expect(handled).toEqual(['after']);
      const [line] = c.logger.events('stream.group_recreated');
      expect(line?.level).toBe('error');
      expect(line?.fields).toMatchObject({
        startId: '$',
        stream: input(),
        group: 'printery-validator',
      });
      expect(line?.message).toMatch(/XGROUP SETID/);
    });

    it('without a committed id, recreates at 0 when the stream is gone, so nothing new is lost', async () => {
      const handled: string[] = [];
      const c = start({
        settings: { blockMs: 200 },
        handler: recording(handled),
      });
      await c.consumer.start(() => undefined);
      // As after a restart without persistence: stream and group are gone.
      await redis.del(input());
      await eventually(() => c.logger.events('group.recreated').length === 1, 10_000);
      await redis.xadd(input(), '*', ...eventFields('fresh'));
      await eventually(() => handled.includes('fresh'));

      expect(handled).toEqual(['fresh']);
      expect(c.logger.events('group.recreated')[0]?.fields.fromId).toBe('0');
      expect(c.logger.events('stream.group_recreated')).toHaveLength(0);
    });
  });
});
