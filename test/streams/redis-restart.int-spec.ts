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
  sleep,
} from './fixtures/build-consumer';

// Real: a redis-server with AOF (appendfsync always) that is restarted mid-run.
describe('StreamConsumer when Redis restarts mid-run', () => {
  let server: RedisServer;
  let redis: Redis;
  let built: TestConsumer | undefined;
  const prefix = 'test:restart';
  const input = `${prefix}:${EVENT_TYPES.deploymentStarted}`;
  const output = `${prefix}:${EVENT_TYPES.validationCompleted}`;

  beforeAll(async () => {
    server = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    redis = server.client();
    redis.on('error', () => undefined);
  });

  afterAll(async () => {
    await built?.consumer.stop(Date.now() + 2000);
    redis.disconnect();
    await server.dispose();
  });

  it('loses nothing, commits nothing twice and resumes reading', async () => {
    built = buildConsumer({
      url: server.url,
      prefix,
      concurrency: 4,
      settings: { claimIdleMs: 1000, blockMs: 500 },
      handler: async (message: InboundMessage) => {
        await sleep(15);
        return {
          outcome: 'ok',
          outputs: [{ type: EVENT_TYPES.validationCompleted, data: { of: message.envelope.id } }],
        };
      },
    });
    const { consumer } = built;
    await consumer.start(() => undefined);

    for (let i = 0; i < 150; i += 1) {
      await redis.xadd(input, '*', ...eventFields(`before-${i}`));
    }
    await eventually(async () => (await redis.xlen(output)) >= 30);
    await server.restart();
    const afterRestart = await redis.xlen(output).catch(async () => {
      await sleep(200);
      return redis.xlen(output);
    });
    expect(afterRestart).toBeGreaterThanOrEqual(30);

    // Published after the restart: only a live read loop picks these up.
    for (let i = 0; i < 50; i += 1) {
      await redis.xadd(input, '*', ...eventFields(`after-${i}`));
    }
    await eventually(async () => (await redis.xlen(output)) >= 200, 30_000);
    await eventually(async () => (await pendingCount(redis, input, 'printery-validator')) === 0);

    const outputs = await readAll(redis, output);
    const causes = outputs.map((o) => (JSON.parse(o.fields.data ?? 'null') as { of: string }).of);
    expect(new Set(causes).size).toBe(200);
    expect(outputs).toHaveLength(200);
    await eventually(() => consumer.health().healthy);
  });
});
