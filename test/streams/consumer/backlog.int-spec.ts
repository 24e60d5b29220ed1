import type { InboundMessage } from '../../../src/streams/handler';
import { eventually } from '../../helpers/cli-process';
import { eventFields, readAll, sleep } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), the consumer's own connections. A backlog of
// idle pending entries, as a crashed consumer or an outage leaves behind.
describe('StreamConsumer with a backlog of idle pending entries', () => {
  const h = useConsumerHarness({ prefix: 'test:backlog' });

  /** `count` entries read (never acked) by a consumer that then died. */
  async function strand(count: number): Promise<void> {
    await h.redis.xgroup('CREATE', h.input(), 'printery-validator', '0', 'MKSTREAM');
    for (let i = 0; i < count; i += 1) {
      await h.redis.xadd(h.input(), '*', ...eventFields(`stranded-${i}`));
    }
    await h.redis.xreadgroup(
      'GROUP',
      'printery-validator',
      'dead',
      'COUNT',
      count,
      'STREAMS',
      h.input(),
      '>',
    );
  }

  it('works it off at the handler pace, not one claim round per interval', async () => {
    await strand(30);
    // Claim interval 1 s: one entry per round would take 30 s.
    const c = h.start({ concurrency: 1, settings: { claimIdleMs: 2000 }, handler: okHandler });
    await c.consumer.start(() => undefined);
    const begun = Date.now();
    await eventually(async () => (await readAll(h.redis, h.output())).length === 30, 20_000);
    expect(Date.now() - begun).toBeLessThan(8000);
  });

  it('holds the slot of a handler that could not reach Redis, rather than running through the stream', async () => {
    await h.redis.xgroup('CREATE', h.input(), 'printery-validator', '0', 'MKSTREAM');
    for (let i = 0; i < 20; i += 1) {
      await h.redis.xadd(h.input(), '*', ...eventFields(`outage-${i}`));
    }
    let attempts = 0;
    let reachable = false;
    const c = h.start({
      concurrency: 1,
      settings: { claimIdleMs: 1000 },
      handler: (message: InboundMessage) => {
        attempts += 1;
        if (!reachable) {
          // What ioredis says for the handlers' connection while it reconnects.
          return Promise.reject(new Error('Connection is closed.'));
        }
        return okHandler(message);
      },
    });
    await c.consumer.start(() => undefined);
    await sleep(1500);
    // Holds of 250, 500, 1000 ms: a handful of tries, not all 20 entries.
    expect(attempts).toBeLessThanOrEqual(5);
    reachable = true;
    await eventually(async () => (await readAll(h.redis, h.output())).length === 20, 20_000);
  });
});
