import { eventually } from '../../helpers/cli-process';
import { eventFields, pendingCount, readAll } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: a redis-server frozen with SIGSTOP, so sockets stay open but nothing
// answers, as behind a dead NAT entry or a stalled host.
describe('StreamConsumer when Redis stops answering', () => {
  let pid: number;
  let frozen = false;

  function freeze(): void {
    process.kill(pid, 'SIGSTOP');
    frozen = true;
  }

  function thaw(): void {
    if (frozen) {
      process.kill(pid, 'SIGCONT');
      frozen = false;
    }
  }

  // Thawed before anything is stopped or cleaned up.
  const h = useConsumerHarness({ prefix: 'test:frozen', beforeCleanup: thaw });

  beforeAll(async () => {
    const info = await h.redis.info('server');
    pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    expect(pid).toBeGreaterThan(0);
  });

  describe('when a commit gets no reply (half-open command connection)', () => {
    it('reconnects it, reports the worker unhealthy meanwhile and commits once Redis answers', async () => {
      let release: () => void = () => undefined;
      const c = h.start({
        commandTimeoutMs: 400,
        settings: { claimIdleMs: 60_000, blockMs: 200 },
        handler: async (message) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('half-open'));
      await eventually(() => c.consumer.health().inFlight === 1);
      const commit = c.connection('commit');
      let reconnects = 0;
      commit?.on('reconnecting', () => {
        reconnects += 1;
      });

      freeze();
      release();
      await eventually(() => /commands to Redis time out/.test(c.consumer.health().reason ?? ''));
      expect(c.consumer.health().healthy).toBe(false);
      expect(c.logger.events('consumer.command_timeout').length).toBeGreaterThanOrEqual(1);
      await eventually(() => reconnects >= 1);

      thaw();
      await eventually(async () => (await h.redis.xlen(h.output())) === 1, 15_000);
      await eventually(
        async () => (await pendingCount(h.redis, h.input(), 'printery-validator')) === 0,
        15_000,
      );
      await eventually(() => c.consumer.health().healthy, 15_000);
      expect(await h.redis.xlen(h.output())).toBe(1);
    });
  });

  describe('stop(deadline)', () => {
    it('resolves by its deadline although the commit and QUIT get no reply', async () => {
      let release: () => void = () => undefined;
      const c = h.start({
        settings: { claimIdleMs: 60_000 },
        handler: async (message) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('stalled'));
      await eventually(() => c.consumer.health().inFlight === 1);

      freeze();
      // The handler finishes, but its commit hangs on the frozen server.
      release();
      const begun = Date.now();
      const deadline = begun + 1500;
      await c.consumer.stop(deadline);
      const overrun = Date.now() - deadline;
      expect(overrun).toBeLessThanOrEqual(30);
      expect(c.logger.events('consumer.stopped')).toHaveLength(1);
    });

    it('still ends by the deadline when it has plenty of time and Redis answers', async () => {
      const c = h.start({ handler: okHandler });
      await c.consumer.start(() => undefined);
      await h.redis.xadd(h.input(), '*', ...eventFields('one'));
      await eventually(async () => (await h.redis.xlen(h.output())) === 1);
      const deadline = Date.now() + 10_000;
      await c.consumer.stop(deadline);
      expect(Date.now()).toBeLessThan(deadline);
      expect(c.connections.every((conn) => conn.status === 'end')).toBe(true);
      // Drained and idle: its consumer name was removed from the group.
      const consumers = (await h.redis.xinfo(
        'CONSUMERS',
        h.input(),
        'printery-validator',
      )) as unknown[];
      expect(consumers).toHaveLength(0);
      expect(await readAll(h.redis, h.output())).toHaveLength(1);
    });
  });
});
