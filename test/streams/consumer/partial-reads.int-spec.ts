import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields, readAll } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), the consumer's own connections. A worker
// reading two streams with one free slot reads one of them at a time.
describe('StreamConsumer reading fewer streams than it has (slots scarce)', () => {
  const h = useConsumerHarness({ prefix: 'test:partial-reads' });

  it('does not leave an entry of one stream waiting out a long block on the other', async () => {
    const quiet = `${h.prefix}:quiet`;
    const c = h.start({
      concurrency: 1,
      // A long block, so a wait on the quiet stream would show.
      settings: { blockMs: 5000, claimIdleMs: 60_000 },
      streams: [
        { stream: h.input(), eventType: EVENT_TYPES.deploymentStarted },
        { stream: quiet, eventType: EVENT_TYPES.deploymentStarted },
      ],
      handler: okHandler,
    });
    await c.consumer.start(() => undefined);
    // One at a time: after each, the next read turns to the quiet stream first.
    const begun = Date.now();
    for (let i = 1; i <= 3; i += 1) {
      await h.redis.xadd(h.input(), '*', ...eventFields(`busy-${i}`));
      await eventually(async () => (await readAll(h.redis, h.output())).length === i, 20_000);
    }
    // Each would wait up to the 5 s block otherwise.
    expect(Date.now() - begun).toBeLessThan(2500);
  });
});
