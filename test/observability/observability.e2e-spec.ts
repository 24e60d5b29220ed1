import type Redis from 'ioredis';
import { LoopbackSink } from '../../dev/loopback-sink';
import { RedisServer, freePort } from '../../dev/redis-server';
import { JSON_CONTENT_TYPE, SPEC_VERSION, encodeEnvelope } from '../../src/streams/envelope';
import { EVENT_TYPES } from '../../src/streams/topology';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { RULES_PATH, alertRules, dashboardQueries } from '../helpers/deploy-files';
import { exportedNames, sampleValue } from '../helpers/metrics-text';
import { PrometheusServer } from '../helpers/prometheus-server';
import { readPromql } from '../helpers/promql';
import { requireTool, runTool } from '../helpers/tools';

// Real: the built CLI running all four workers, a redis-server of its own, a
// loopback webhook sink, promtool and a Prometheus server (Debian's
// prometheus package) scraping the service with the product's alert rules.
// Entries are added with XADD as producers would.

/** Series Prometheus itself adds to every target. */
const PROMETHEUS_SERIES = new Set(['up']);

/** An entry as a producer or a stage writes it. */
function envelope(id: string, type: string, data: unknown): string[] {
  return encodeEnvelope({
    specversion: SPEC_VERSION,
    id,
    type,
    source: 'test',
    datacontenttype: JSON_CONTENT_TYPE,
    data,
  });
}

describe('printery-workers metrics, as Prometheus sees them', () => {
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
    // Every stage's stream, notification:sent included, and the dead letters.
    for (const type of [...Object.values(EVENT_TYPES), 'dead-letter']) {
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

  it('pass promtool check metrics', async () => {
    const promtool = requireTool('promtool');
    const result = await runTool(promtool, ['check', 'metrics'], { input: await scrape() });
    // Lint findings name the metric; prom-client's own nodejs_* gauges have some.
    const ours = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => line.startsWith('printery_'));
    expect(ours).toEqual([]);
  });

  it('are the only metrics the alert rules and the dashboard query', async () => {
    const exported = exportedNames(await scrape());
    const queries = [
      ...alertRules().map((rule) => ({ where: rule.alert, expr: rule.expr })),
      ...dashboardQueries(),
    ];
    for (const { where, expr } of queries) {
      const unknown = readPromql(expr).metrics.filter(
        (name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name),
      );
      expect({ where, unknown }).toEqual({ where, unknown: [] });
    }
  });

  it('raise the dead-letter alert in a real Prometheus when a malformed entry arrives', async () => {
    const prometheus = await PrometheusServer.start({
      ruleFiles: [RULES_PATH],
      targets: [new URL(base).host],
    });
    try {
      const seriesOf = { worker: 'validator', reason: 'malformed' };
      // The counter's 0 must be in the TSDB first: increase() needs two samples.
      await eventually(async () => {
        const [sample] = await prometheus.query(
          'printery_dead_letters_total{worker="validator",reason="malformed"}',
        );
        return sample?.value[1] === '0';
      }, 20_000);

      // No `data`: malformed, dead-lettered at once.
      await client.xadd(
        stream('deployment:started'),
        '*',
        'id',
        'evt-bad',
        'type',
        'deployment:started',
      );

      let alerts: Awaited<ReturnType<PrometheusServer['alerts']>> = [];
      await eventually(async () => {
        alerts = await prometheus.alerts();
        return alerts.some((alert) => alert.labels.alertname === 'PrinteryDeadLetters');
      }, 20_000);
      const alert = alerts.find((a) => a.labels.alertname === 'PrinteryDeadLetters');
      expect(['pending', 'firing']).toContain(alert?.state);
      expect(alert?.labels).toMatchObject({
        ...seriesOf,
        severity: 'warning',
        job: 'printery-workers',
      });
      expect(alert?.annotations.summary).toBe(
        'Entries dead-lettered by validator (malformed) in the last 10 minutes',
      );
      // A healthy service raises nothing else.
      expect(
        alerts.filter((a) => a.labels.alertname !== 'PrinteryDeadLetters').map((a) => a.labels),
      ).toEqual([]);
    } finally {
      await prometheus.stop();
    }
  });
});
