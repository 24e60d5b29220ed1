import type Redis from 'ioredis';
import type { InboundMessage } from '../../src/streams/handler';
import { EVENT_TYPES } from '../../src/streams/topology';
import { eventually } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import {
  type TestConsumer,
  buildConsumer,
  eventFields,
  pendingCount,
  readAll,
} from './fixtures/build-consumer';

// Real: a redis-server frozen with SIGSTOP, so sockets stay open but nothing
// answers, as behind a dead NAT entry or a stalled host.
describe('StreamConsumer when Redis stops answering', () => {
  let server: RedisServer;
  let redis: Redis;
  let pid: number;
  let frozen = false;
  let running: TestConsumer[] = [];
  let prefixNo = 0;
  let prefix: string;

  const input = (): string => `${prefix}:${EVENT_TYPES.deploymentStarted}`;
  const output = (): string => `${prefix}:${EVENT_TYPES.validationCompleted}`;

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

  const okHandler = (message: InboundMessage) =>
    Promise.resolve({
      outcome: 'ok' as const,
      outputs: [{ type: EVENT_TYPES.validationCompleted, data: { of: message.envelope.id } }],
    });

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
    redis.on('error', () => undefined);
    const info = await redis.info('server');
    pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    expect(pid).toBeGreaterThan(0);
  });

  afterAll(async () => {
    thaw();
    redis.disconnect();
    await server.dispose();
  });

  beforeEach(() => {
    prefixNo += 1;
    prefix = `test:frozen:${prefixNo}`;
  });

  afterEach(async () => {
    thaw();
    await Promise.all(running.map((r) => r.consumer.stop(Date.now() + 2000)));
    running = [];
  });

  function start(options: Omit<Parameters<typeof buildConsumer>[0], 'url' | 'prefix'>) {
    const built = buildConsumer({ url: server.url, prefix, ...options });
    running.push(built);
    return built;
  }

  describe('when a commit gets no reply (half-open command connection)', () => {
    it('reconnects it, reports the worker unhealthy meanwhile and commits once Redis answers', async () => {
      let release: () => void = () => undefined;
      const c = start({
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
      await redis.xadd(input(), '*', ...eventFields('half-open'));
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
      await eventually(async () => (await redis.xlen(output())) === 1, 15_000);
      await eventually(
        async () => (await pendingCount(redis, input(), 'printery-validator')) === 0,
        15_000,
      );
      await eventually(() => c.consumer.health().healthy, 15_000);
      expect(await redis.xlen(output())).toBe(1);
    });
  });

  describe('stop(deadline)', () => {
    it('resolves by its deadline although the commit and QUIT get no reply', async () => {
      let release: () => void = () => undefined;
      const c = start({
        settings: { claimIdleMs: 60_000 },
        handler: async (message) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          return okHandler(message);
        },
      });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('stalled'));
      await eventually(() => c.consumer.health().inFlight === 1);

      freeze();
      // The handler finishes, but its commit hangs on the frozen server.
      release();
      const begun = Date.now();
      const deadline = begun + 1500;
      await c.consumer.stop(deadline);
      const overrun = Date.now() - deadline;
      console.log(`stop against a frozen redis: ${overrun}ms past the deadline`);
      expect(overrun).toBeLessThanOrEqual(30);
      expect(c.logger.events('consumer.stopped')).toHaveLength(1);
    });

    it('still ends by the deadline when it has plenty of time and Redis answers', async () => {
      const c = start({ handler: okHandler });
      await c.consumer.start(() => undefined);
      await redis.xadd(input(), '*', ...eventFields('one'));
      await eventually(async () => (await redis.xlen(output())) === 1);
      const deadline = Date.now() + 10_000;
      await c.consumer.stop(deadline);
      expect(Date.now()).toBeLessThan(deadline);
      expect(c.connections.every((conn) => conn.status === 'end')).toBe(true);
      // Drained and idle: its consumer name was removed from the group.
      const consumers = (await redis.xinfo(
        'CONSUMERS',
        input(),
        'printery-validator',
      )) as unknown[];
      expect(consumers).toHaveLength(0);
      expect(await readAll(redis, output())).toHaveLength(1);
    });
  });
});
