import { MAX_COMMIT_REFUSALS } from '../../../src/streams/consumer/committer';
import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: redis-server (own port) with an ACL user that may read the input
// stream but not write the output stream; ioredis connections. The handler
// is a test double; the logger keeps lines in memory.
describe('StreamConsumer', () => {
  const h = useConsumerHarness({ prefix: 'test:consumer:refused' });

  describe('when Redis refuses every commit of an entry (an ACL denies the output stream)', () => {
    it('gives up after a bounded number of attempts and reports the worker failed, once', async () => {
      await h.asAclUser(
        'no-output',
        [`~${h.prefix}:deployment:*`, `~${h.prefix}:dead-letter`, '&*', '+@all'],
        async (url) => {
          const failures: Error[] = [];
          const c = h.start({ url, handler: okHandler });
          await c.consumer.start((error) => failures.push(error));
          await h.redis.xadd(h.input(), '*', ...eventFields('refused-1'));

          await eventually(() => failures.length === 1, 30_000);
          expect(failures[0]?.message).toMatch(
            new RegExp(
              `refused the commit of ${h.input()} \\S+ ${MAX_COMMIT_REFUSALS} times: .*NOPERM`,
            ),
          );
          const refused = c.logger.events('message.commit_refused');
          expect(refused[0]?.level).toBe('error');
          expect(refused[0]?.fields.attempts).toBe(MAX_COMMIT_REFUSALS);
          // The entry stays pending for a consumer that may write; reclaimed and
          // refused again here, it fails the worker no second time.
          await eventually(() => c.logger.events('message.commit_refused').length >= 2, 30_000);
          expect(failures).toHaveLength(1);
          expect(await pendingCount(h.redis, h.input(), 'printery-validator')).toBe(1);
          expect(await h.redis.xlen(h.output())).toBe(0);
          expect(c.counters.processed).toBe(0);
        },
      );
    });
  });
});
