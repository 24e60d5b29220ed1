import { EVENT_TYPES } from '../../../src/streams/topology';
import { eventually } from '../../helpers/cli-process';
import { eventFields } from '../fixtures/build-consumer';
import { useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port), ioredis connections; the handler is a test
// double that asks for a mark with its output, as the Validator does.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:marks' });

  const marking = (key: string) => (message: { envelope: { id: string } }) =>
    Promise.resolve({
      outcome: 'ok' as const,
      outputs: [{ type: EVENT_TYPES.validationCompleted, data: { of: message.envelope.id } }],
      marks: [{ key, value: message.envelope.id, ttlMs: 60_000 }],
    });

  describe('when a handler asks for a mark with its outputs', () => {
    it('sets it, with its TTL, in the commit that publishes them', async () => {
      const key = `${h.prefix}:accepted:one`;
      const c = h.start({ handler: marking(key) });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('marked-1'));
      await eventually(async () => (await h.redis.xlen(h.output())) === 1);
      expect(await h.redis.get(key)).toBe('marked-1');
      expect(await h.redis.pttl(key)).toBeGreaterThan(50_000);
    });

    it('leaves no mark when the commit does not happen', async () => {
      const key = `${h.prefix}:accepted:two`;
      // The output stream is denied: the MULTI is discarded, mark and all.
      await h.asAclUser(
        'no-output-marks',
        [`~${h.prefix}:deployment:*`, `~${h.prefix}:accepted:*`, '&*', '+@all'],
        async (url) => {
          const c = h.start({ url, handler: marking(key) });
          await c.consumer.start(() => undefined);
          await h.redis.xadd(h.input(), '*', ...eventFields('marked-2'));
          await eventually(() => c.logger.events('message.commit_retry').length >= 1);
          expect(await h.redis.exists(key)).toBe(0);
          expect(await h.redis.xlen(h.output())).toBe(0);
        },
      );
    });
  });
});
