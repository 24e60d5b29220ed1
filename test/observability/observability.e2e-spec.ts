import type Redis from 'ioredis';
import { LoopbackSink } from '../../dev/loopback-sink';
import { RedisServer, freePort } from '../../dev/redis-server';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { sampleValue } from '../helpers/metrics-text';

// Real: the built CLI running all four workers, a redis-server of its own, a
// loopback webhook sink. Entries are added with XADD as producers would.

/** A CloudEvents field list as the stages write it. */
function envelope(id: string, type: string, data: unknown): string[] {
  return [
    'specversion',
    '1.0',
    'id',
    id,
    'type',
    type,
    'source',
    'test',
    'data',
    JSON.stringify(data),
  ];
}

describe('printery-workers metrics', () => {
  let redis: RedisServer;
  let client: Redis;
  let sink: LoopbackSink;
  let app: CliProcess;
  let base: string;
  let prefix: string;

  const scrape = async (): Promise<string> => (await httpGet(`${base}/metrics`)).text;
  /** A scrape that shows `done`: scrapes within a quarter second share one read of Redis. */
  const scrapeUntil = async (done: (text: string) => boolean): Promise<string> => {
    let text = '';
    await eventually(async () => done((text = await scrape())));
    return text;
  };
  const stream = (type: string): string => `${prefix}:${type}`;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    sink = await LoopbackSink.start();
    const port = await freePort();
    prefix = `test:obs:${port}`;
    base = `http://127.0.0.1:${port}`;
    app = new CliProcess(['run'], {
      REDIS_URL: redis.url,
      PORT: String(port),
      STREAM_PREFIX: prefix,
      NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_WEBHOOK_URLS: sink.url('/hooks/all'),
      // Entries a test leaves pending on purpose stay with their consumer.
      CLAIM_IDLE_MS: '10m',
      HEALTH_CHECK_INTERVAL_MS: '200',
    });
    await app.waitForEvent('service.listening');
    await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200);
  });

  afterAll(async () => {
    app.signal('SIGTERM');
    await app.waitForExit();
    await client.quit();
    await sink.close();
    await redis.dispose();
  });

  it('exports the length of every stream it reads or writes, outputs and dead letters included', async () => {
    const text = await scrape();
    for (const type of [
      'deployment:started',
      'validation:completed',
      'dependency:checked',
      'health:checked',
      'notification:sent',
      'dead-letter',
    ]) {
      expect(sampleValue(text, 'printery_stream_length', { stream: stream(type) })).toBe(0);
    }
    expect(sampleValue(text, 'printery_redis_up')).toBe(1);
    // Seeded at 0, so the first dead letter is an increase Prometheus can see.
    expect(
      sampleValue(text, 'printery_dead_letters_total', {
        worker: 'validator',
        reason: 'malformed',
      }),
    ).toBe(0);
  });

  it('exports how old the oldest entry pending in each group is', async () => {
    const input = stream('deployment:started');
    // A consumer that reads and never acknowledges, given an entry added two
    // minutes ago (its id's time); MULTI keeps the live validator from it.
    const addedAt = Date.now() - 120_000;
    await client
      .multi()
      .xadd(input, `${addedAt}-0`, ...envelope('evt-stuck', 'deployment:started', {}))
      .xreadgroup('GROUP', 'printery-validator', 'gone-consumer', 'COUNT', 1, 'STREAMS', input, '>')
      .exec();

    const labels = { stream: input, group: 'printery-validator' };
    const text = await scrapeUntil((t) => sampleValue(t, 'printery_stream_pending', labels) === 1);
    const age = sampleValue(text, 'printery_stream_oldest_pending_age_seconds', labels);
    expect(age).toBeGreaterThanOrEqual(120);
    expect(age).toBeLessThan(180);
    expect(
      sampleValue(text, 'printery_stream_oldest_pending_age_seconds', {
        stream: stream('health:checked'),
        group: 'printery-notifier',
      }),
    ).toBe(0);
  });

  it('counts a deployment once per terminal event and each notified target by result', async () => {
    const healthy = {
      deploymentId: 'dep-obs-1',
      healthy: true,
      attempts: 1,
      lastStatus: 200,
      lastError: null,
      durationMs: 12,
      deployment: { service: 'billing-api', version: '1.4.2', environment: 'staging', notify: [] },
    };
    const invalid = { deploymentId: 'dep-obs-2', valid: false, errors: [], deployment: {} };
    const add = async (type: string, id: string, data: unknown, sent: number) => {
      await client.xadd(stream(type), '*', ...envelope(id, type, data));
      await eventually(async () => (await client.xlen(stream('notification:sent'))) === sent);
    };
    await add('health:checked', 'evt-ok', healthy, 1);
    // The same terminal event again, as a failover can replay it.
    await add('health:checked', 'evt-ok', healthy, 2);
    await add('validation:completed', 'evt-invalid', invalid, 3);

    const sent = { stream: stream('notification:sent') };
    const text = await scrapeUntil((t) => sampleValue(t, 'printery_stream_length', sent) === 3);
    const deployments = (labels: Record<string, string>) =>
      sampleValue(text, 'printery_deployments_total', labels);
    const notifications = (result: string) =>
      sampleValue(text, 'printery_notifications_total', { type: 'webhook', result });
    expect(deployments({ outcome: 'succeeded', failed_stage: 'none' })).toBe(1);
    expect(deployments({ outcome: 'failed', failed_stage: 'validation' })).toBe(1);
    expect(deployments({ outcome: 'failed', failed_stage: 'health' })).toBe(0);
    expect(notifications('delivered')).toBe(2);
    expect(notifications('deduplicated')).toBe(1);
    expect(notifications('failed')).toBe(0);
    expect(sink.received('/hooks/all')).toHaveLength(2);
  });
});
