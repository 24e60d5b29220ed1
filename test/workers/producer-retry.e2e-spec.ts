import type Redis from 'ioredis';
import { encodeDeadLetter } from '../../src/streams/dead-letter';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { cliEnv, deployment, startService, stopService } from '../cli/cli-fixtures';
import { RedisServer } from '../../dev/redis-server';

// Real: the built CLI running all four workers, redis-server, the real
// `dlq replay` command. Entries are added as a producer (and its retries) would.

describe('producer retries (same source and id)', () => {
  let redis: RedisServer;
  let admin: Redis;
  let service: { proc: CliProcess; url: string };
  let env: ReturnType<typeof cliEnv>;
  const started = () => `${env.STREAM_PREFIX}:deployment:started`;
  const validated = async () =>
    (await admin.xrange(`${env.STREAM_PREFIX}:validation:completed`, '-', '+')).map(
      ([, fields]) => fields[fields.indexOf('causationid') + 1],
    );

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = redis.client();
    env = cliEnv(redis, { LOG_LEVEL: 'info' });
    service = await startService(env);
  }, 60_000);

  afterAll(async () => {
    if (service) {
      await stopService(service.proc);
    }
    admin?.disconnect();
    await redis?.dispose();
  });

  const fields = (id: string, source: string) => [
    ...['specversion', '1.0', 'id', id, 'type', 'deployment:started', 'source', source],
    ...['data', JSON.stringify(deployment({ deploymentId: `dep-${id}` }))],
  ];

  /** Until the validator's group has read and acknowledged everything. */
  const validatorDone = () =>
    eventually(async () => {
      const groups = (await admin.xinfo('GROUPS', started())) as unknown[][];
      const info = groups.map(
        (row) =>
          Object.fromEntries(
            Array.from({ length: row.length / 2 }, (_, i) => [row[2 * i], row[2 * i + 1]]),
          ) as Record<string, unknown>,
      );
      const validator = info.find((g) => g.name === 'printery-validator');
      return validator?.pending === 0 && validator.lag === 0;
    }, 15_000);

  it('runs a deployment:started once when the producer sends it again', async () => {
    await admin.xadd(started(), '*', ...fields('evt-retried', 'orchestrator'));
    await admin.xadd(started(), '*', ...fields('evt-retried', 'orchestrator'));
    // The same id from another source is another event.
    await admin.xadd(started(), '*', ...fields('evt-retried', 'other-orchestrator'));
    await validatorDone();

    expect((await validated()).filter((id) => id === 'evt-retried')).toHaveLength(2);
    const skipped = service.proc.logs.filter((l) => l.event === 'deployment.duplicate_skipped');
    expect(skipped).toEqual([
      expect.objectContaining({ eventId: 'evt-retried', source: 'orchestrator' }),
    ]);
    const metrics = (await httpGet(`${service.url}/metrics`)).text;
    expect(metrics).toMatch(
      /printery_events_processed_total\{worker="validator",outcome="skipped"\} 1\b/,
    );
  });

  it('still runs a dead letter re-driven with dlq replay', async () => {
    const first = await admin.xrange(started(), '-', '+', 'COUNT', 1);
    const [entryId, original] = first[0] as [string, string[]];
    await admin.xadd(
      `${env.STREAM_PREFIX}:dead-letter`,
      '*',
      ...encodeDeadLetter({
        stream: started(),
        id: entryId,
        group: 'printery-validator',
        worker: 'validator',
        reason: 'max_deliveries',
        error: 'handler failed',
        deliveryCount: 5,
        fields: original,
        time: new Date().toISOString(),
      }),
    );
    const replay = await CliProcess.run(['dlq', 'replay', '--all'], env);
    expect(replay.code).toBe(0);
    await validatorDone();
    expect((await validated()).filter((id) => id === 'evt-retried')).toHaveLength(3);
  });
});
