import { eventually } from '../../helpers/cli-process';
import { eventFields, readAll } from '../fixtures/build-consumer';
import { okHandler, useConsumerHarness } from '../fixtures/consumer-harness';

// Real: a redis-server whose writes are held by CLIENT PAUSE … WRITE while the
// consumer creates its group, and whose connections are then killed, as in a
// failover that lands on a worker's start.
describe('StreamConsumer start when the connection drops', () => {
  const h = useConsumerHarness({ prefix: 'test:start-faults' });

  afterEach(async () => {
    await h.redis.client('UNPAUSE');
  });

  /** Kills every connection but the test's own (CLIENT KILL skips the caller). */
  async function killConsumerConnections(): Promise<number> {
    return Number(await h.redis.client('KILL', 'TYPE', 'normal'));
  }

  it('waits for Redis and starts, rather than failing the worker', async () => {
    const c = h.start({ handler: okHandler });
    await h.redis.client('PAUSE', 3000, 'WRITE');
    let failure: Error | undefined;
    const started = c.consumer.start((error) => {
      failure = error;
    });
    // XGROUP CREATE is a write: it waits behind the pause until the kill.
    await eventually(async () => ((await h.redis.client('LIST')) as string).includes('cmd=xgroup'));
    expect(await killConsumerConnections()).toBeGreaterThan(0);
    await h.redis.client('UNPAUSE');
    await expect(started).resolves.toBeUndefined();

    await h.redis.xadd(h.input(), '*', ...eventFields('after-drop'));
    await eventually(async () => (await readAll(h.redis, h.output())).length === 1);
    expect(failure).toBeUndefined();
    expect(c.logger.events('consumer.start_retry').length).toBeGreaterThan(0);
  });

  it('tells the supervisor it waits for Redis while its start is held by an outage', async () => {
    const c = h.start({ handler: okHandler });
    await h.redis.client('PAUSE', 3000, 'WRITE');
    const started = c.consumer.start(() => undefined);
    await eventually(async () => ((await h.redis.client('LIST')) as string).includes('cmd=xgroup'));
    // The server goes away while the group join waits: a failover's outage.
    await h.server.stop();
    await eventually(() => c.consumer.health().waitingForRedis === true);
    expect(c.consumer.health()).toMatchObject({ healthy: false, reason: 'redis connection down' });
    await h.server.start();
    await expect(started).resolves.toBeUndefined();
    await eventually(() => c.consumer.health().healthy);
  });

  it('still fails at once on a refusal that waiting does not mend', async () => {
    await h.asAclUser(
      'no-createconsumer',
      ['~*', '&*', '+@all', '-xgroup|createconsumer'],
      async (url) => {
        const c = h.start({ url, handler: okHandler });
        await expect(c.consumer.start(() => undefined)).rejects.toThrow(/NOPERM/);
      },
    );
  });
});
