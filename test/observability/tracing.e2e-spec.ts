import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Redis from 'ioredis';
import { LoopbackSink, hitsOf, reply } from '../../dev/loopback-sink';
import { OtlpReceiver, type ReceivedSpan, SPAN_KIND, STATUS_CODE } from '../../dev/otlp-receiver';
import { RedisServer, freePort } from '../../dev/redis-server';
import { redactUrlPath } from '../../src/logging/redact';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { sampleValue } from '../helpers/metrics-text';

// Real: the built CLI (dist/main.js) running all four workers, a
// redis-server of its own, loopback health and webhook targets, and a
// loopback OTLP/HTTP receiver (dev/otlp-receiver.ts) that decodes what the
// service's OpenTelemetry exporter sends — protobuf with OpenTelemetry's own
// .proto files. Entries are added with XADD, as a producer would.

const PROBE = resolve(__dirname, '..', 'helpers', 'require-cache-probe.js');
/** Secrets and payload that must never reach a span. */
const URL_PASSWORD = 'hook-password-5ecret';
const QUERY_TOKEN = 'query-token-5ecret';
const PATH_TOKEN = 'xoxPathToken5ecret';
const HEADER_SECRET = 'collector-api-key-5ecret';
const WEBHOOK_SECRET = 'webhook-hmac-5ecret';
const PAYLOAD_MARKER = 'requested-by-payload-marker';
const SECRETS = [URL_PASSWORD, QUERY_TOKEN, PATH_TOKEN, HEADER_SECRET, WEBHOOK_SECRET];

let redis: RedisServer;
let admin: Redis;
let targets: LoopbackSink;

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = redis.client();
  targets = await LoopbackSink.start({
    answer: ({ path }, res, received) => {
      // Each deployment's health target flaps: 503 first, then healthy.
      reply(res, path.startsWith('/health/') && hitsOf(received, path) === 1 ? 503 : 200);
    },
  });
});

afterAll(async () => {
  admin?.disconnect();
  await targets?.close();
  await redis?.dispose();
});

interface Service {
  app: CliProcess;
  base: string;
  prefix: string;
}

/** The real service with tracing settings `env`, ready; `probeOut` preloads the require.cache probe. */
async function startService(env: NodeJS.ProcessEnv, probeOut?: string): Promise<Service> {
  const port = await freePort();
  const prefix = `trace-${randomUUID().slice(0, 8)}`;
  await admin.hset(`${prefix}:registry:staging`, {
    'auth-api': JSON.stringify({
      version: '2.3.0',
      deploymentId: 'seed',
      dependencies: [],
      healthy: true,
      updatedAt: null,
    }),
  });
  const app = new CliProcess(['run'], {
    REDIS_URL: redis.url,
    PORT: String(port),
    STREAM_PREFIX: prefix,
    REGISTRY_PREFIX: `${prefix}:registry`,
    ENVIRONMENT: 'development',
    LOG_LEVEL: 'info',
    HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
    NOTIFY_BACKOFF_MS: '50',
    // Exported within a tenth of a second instead of every 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...(probeOut ? { NODE_OPTIONS: `--require ${PROBE}`, REQUIRE_CACHE_PROBE_OUT: probeOut } : {}),
    ...env,
  });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await httpGet(`${base}/health/ready`)).status === 200, 30_000);
  return { app, base, prefix };
}

async function stopService(service: Service | undefined): Promise<void> {
  if (service) {
    service.app.signal('SIGTERM');
    await service.app.waitForExit(20_000).catch(() => service.app.dispose());
  }
}

/** A path segment of letters only: one with digits reads as a token and is redacted. */
function healthPath(): string {
  const letters = Array.from({ length: 10 }, () =>
    String.fromCharCode(97 + Math.floor(Math.random() * 26)),
  );
  return `/health/${letters.join('')}`;
}

function deployment(
  id: string,
  over: Record<string, unknown> = {},
  health = healthPath(),
): Record<string, unknown> {
  return {
    deploymentId: id,
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    artifact: 'registry.example.com/billing-api:1.4.2',
    dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
    healthCheck: {
      url: targets.url(health),
      timeoutMs: 1000,
      intervalMs: 50,
      maxAttempts: 3,
    },
    notify: [
      {
        type: 'webhook',
        url: `http://hook:${URL_PASSWORD}@127.0.0.1:${targets.port}/hooks/printery?token=${QUERY_TOKEN}`,
      },
      { type: 'slack', url: targets.url(`/services/T0ABC123/B0DEF456/${PATH_TOKEN}`) },
    ],
    requestedBy: PAYLOAD_MARKER,
    ...over,
  };
}

/** Adds a deployment:started entry without traceparent; its event id and entry id. */
async function publish(
  prefix: string,
  data: Record<string, unknown>,
): Promise<{ eventId: string; entryId: string }> {
  const eventId = randomUUID();
  const entryId = await admin.xadd(
    `${prefix}:deployment:started`,
    '*',
    'id',
    eventId,
    'type',
    'deployment:started',
    'source',
    'e2e',
    'subject',
    String(data.deploymentId),
    'data',
    JSON.stringify(data),
  );
  return { eventId, entryId: entryId as string };
}

/** Fields of the entry in `stream` whose envelope `field` is `value`. */
async function entryWhere(
  stream: string,
  field: string,
  value: string,
): Promise<{ id: string; fields: Record<string, string> } | undefined> {
  for (const [id, flat] of await admin.xrange(stream, '-', '+')) {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      fields[flat[i] as string] = flat[i + 1] as string;
    }
    if (fields[field] === value) {
      return { id, fields };
    }
  }
  return undefined;
}

/** The trace whose validator span handled event `eventId`, once `complete` says it has all it needs. */
async function traceOf(
  receiver: OtlpReceiver,
  eventId: string,
  complete: (spans: ReceivedSpan[]) => boolean,
): Promise<ReceivedSpan[]> {
  let trace: ReceivedSpan[] = [];
  try {
    await eventually(() => {
      const spans = receiver.spans();
      const root = spans.find((span) => span.attributes['cloudevents.event_id'] === eventId);
      trace = root ? spans.filter((span) => span.traceId === root.traceId) : [];
      return complete(trace);
    }, 30_000);
  } catch (error) {
    const seen = trace.map((span) => `${span.name} ${span.status.message}`.trim());
    throw new Error(`${(error as Error).message}; the trace so far: ${seen.join('; ')}`);
  }
  return trace;
}

const named = (spans: ReceivedSpan[], name: string): ReceivedSpan[] =>
  spans.filter((span) => span.name === name);
/** The client spans (outbound requests) beneath `parent`. */
const requestsOf = (spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] =>
  spans.filter((span) => span.parentSpanId === parent.spanId && span.kind === SPAN_KIND.client);

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = named(spans, name);
  expect(found).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

/** Which @opentelemetry packages the probe saw loaded, and who first required each module. */
function loadedPackages(file: string): { packages: string[]; parents: string[] } {
  const loaded = JSON.parse(readFileSync(file, 'utf8')) as Array<{
    file: string;
    parent: string | null;
  }>;
  const packageOf = (path: string): string =>
    /node_modules\/(@opentelemetry\/[^/]+)\//.exec(path)?.[1] ?? path;
  return {
    packages: [...new Set(loaded.map((entry) => packageOf(entry.file)))].sort(),
    parents: [
      ...new Set(
        loaded
          .map((entry) => entry.parent ?? '')
          .filter((parent) => !parent.includes('/@opentelemetry/'))
          .map((parent) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(parent)?.[1] ?? parent),
      ),
    ].sort(),
  };
}

describe.each(['http/protobuf', 'http/json'] as const)('tracing with %s', (protocol) => {
  let receiver: OtlpReceiver;
  let service: Service | undefined;
  const probeOut = join(tmpdir(), `printery-require-cache-${randomUUID()}.json`);

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    service = await startService(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${HEADER_SECRET}`,
        // A redelivery within a second, and a dead letter on the second failure.
        CLAIM_IDLE_MS: '500',
        MAX_DELIVERIES: '2',
      },
      probeOut,
    );
  }, 60_000);

  afterAll(async () => {
    await stopService(service);
    await receiver?.close();
  });

  it('gives a deployment one trace: the four consumer spans in a chain, probes and webhooks beneath', async () => {
    const { prefix } = service as Service;
    const id = `dep-${randomUUID().slice(0, 8)}`;
    const health = healthPath();
    const data = deployment(id, {}, health);
    const published = await publish(prefix, data);
    const input = (type: string): string => `${prefix}:${type}`;
    // The Notifier reads three streams: the two entries that are not for it
    // (valid, satisfied) are spans of their own, acknowledged as skipped.
    const trace = await traceOf(
      receiver,
      published.eventId,
      (spans) => named(spans, 'notifier process').length === 3 && named(spans, 'POST').length === 2,
    );

    // Published without traceparent: the validator starts the trace.
    const validator = one(trace, 'validator process');
    const dependency = one(trace, 'dependency process');
    const healthSpan = one(trace, 'health process');
    const notifierSpans = named(trace, 'notifier process');
    const notifierOn = (type: string): ReceivedSpan | undefined =>
      notifierSpans.find((span) => span.attributes['messaging.destination.name'] === input(type));
    const notifier = notifierOn('health:checked') as ReceivedSpan;
    expect(validator.parentSpanId).toBe('');
    expect(dependency.parentSpanId).toBe(validator.spanId);
    expect(healthSpan.parentSpanId).toBe(dependency.spanId);
    expect(notifier.parentSpanId).toBe(healthSpan.spanId);
    expect(notifierOn('validation:completed')?.parentSpanId).toBe(validator.spanId);
    expect(notifierOn('dependency:checked')?.parentSpanId).toBe(dependency.spanId);
    for (const type of ['validation:completed', 'dependency:checked']) {
      expect(notifierOn(type)?.attributes['printery.outcome']).toBe('skipped');
    }
    expect(new Set(trace.map((span) => span.protocol))).toEqual(new Set([protocol]));

    const validated = await entryWhere(input('validation:completed'), 'subject', id);
    const checked = await entryWhere(input('dependency:checked'), 'subject', id);
    const healthChecked = await entryWhere(input('health:checked'), 'subject', id);
    const stages: Array<[ReceivedSpan, string, string, string]> = [
      [validator, 'deployment:started', 'printery-validator', published.entryId],
      [dependency, 'validation:completed', 'printery-dependency', validated?.id ?? ''],
      [healthSpan, 'dependency:checked', 'printery-health', checked?.id ?? ''],
      [notifier, 'health:checked', 'printery-notifier', healthChecked?.id ?? ''],
    ];
    for (const [span, type, group, entryId] of stages) {
      expect(span.kind).toBe(SPAN_KIND.consumer);
      expect(span.status.code).toBe(STATUS_CODE.unset);
      expect(span.attributes).toMatchObject({
        'messaging.system': 'redis',
        'messaging.operation.type': 'process',
        'messaging.destination.name': input(type),
        'messaging.consumer.group.name': group,
        'messaging.message.id': entryId,
        'printery.message.delivery_count': 1,
        'printery.outcome': 'ok',
        'cloudevents.event_subject': id,
      });
    }
    // Each stage's output carries its own span's traceparent.
    expect(validated?.fields.traceparent).toBe(`00-${validator.traceId}-${validator.spanId}-01`);
    expect(healthChecked?.fields.traceparent).toBe(
      `00-${healthSpan.traceId}-${healthSpan.spanId}-01`,
    );

    // Two probe attempts beneath the Health Monitor's span: a 503, then healthy.
    const probes = requestsOf(trace, healthSpan);
    expect(probes.map((span) => [span.name, span.attributes['http.response.status_code']])).toEqual(
      [
        ['GET', 503],
        ['GET', 200],
      ],
    );
    expect(probes[0]?.status.code).toBe(STATUS_CODE.error);
    expect(probes[1]?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.request.resend_count': 1,
      'url.full': targets.url(health),
      'server.address': '127.0.0.1',
      'server.port': targets.port,
      'printery.request': 'health_probe',
    });

    // One request per target beneath the Notifier's span, URLs redacted as SPEC §1 does.
    const posts = requestsOf(trace, notifier);
    const byPurpose = Object.fromEntries(
      posts.map((span) => [span.attributes['printery.request'], span.attributes]),
    );
    const [webhook] = data.notify as Array<{ url: string }>;
    expect(byPurpose.webhook).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'url.full': redactUrlPath(webhook?.url ?? ''),
    });
    expect(byPurpose.slack).toMatchObject({
      'http.response.status_code': 200,
      'url.full': `http://127.0.0.1:${targets.port}/services/[REDACTED]`,
    });
    expect(trace.every((span) => span.resource['service.name'] === 'printery-workers')).toBe(true);

    // No secret and no payload anywhere in what reached the collector.
    const exported = JSON.stringify(receiver.spans());
    for (const secret of [...SECRETS, PAYLOAD_MARKER, 'registry.example.com']) {
      expect(exported).not.toContain(secret);
    }
    // The header secret did travel, where it belongs: in the export request's headers.
    expect(receiver.requests[0]?.headers['x-api-key']).toBe(HEADER_SECRET);
  });

  it('marks each failed delivery of a retried entry as an error, and says so of the dead letter', async () => {
    const { prefix } = service as Service;
    // The Dependency Checker's registry read fails (a string where a hash
    // belongs): a retryable failure on every delivery, until MAX_DELIVERIES.
    await admin.set(`${prefix}:registry:production`, 'not a hash');
    const id = `dep-${randomUUID().slice(0, 8)}`;
    const published = await publish(prefix, deployment(id, { environment: 'production' }));
    const trace = await traceOf(
      receiver,
      published.eventId,
      (spans) => named(spans, 'dependency process').length === 2,
    );
    const validator = one(trace, 'validator process');
    const deliveries = named(trace, 'dependency process').sort(
      (a, b) =>
        Number(a.attributes['printery.message.delivery_count']) -
        Number(b.attributes['printery.message.delivery_count']),
    );
    for (const span of deliveries) {
      // Every delivery of the same entry hangs beneath the stage that wrote it.
      expect(span.parentSpanId).toBe(validator.spanId);
      expect(span.status.code).toBe(STATUS_CODE.error);
      expect(span.status.message).toContain('WRONGTYPE');
    }
    expect(deliveries.map((span) => span.attributes['printery.message.delivery_count'])).toEqual([
      1, 2,
    ]);
    expect(deliveries[0]?.attributes['printery.outcome']).toBe('retry');
    expect(deliveries[1]?.attributes).toMatchObject({
      'printery.outcome': 'dead_letter',
      'error.type': 'max_deliveries',
    });
    expect(deliveries[1]?.status.message).toMatch(/^dead-lettered \(max_deliveries\)/);
  });

  it('publish --wait prints the trace id of the deployment it follows', async () => {
    const { prefix } = service as Service;
    const id = `dep-${randomUUID().slice(0, 8)}`;
    const file = join(tmpdir(), `printery-trace-${id}.json`);
    writeFileSync(file, JSON.stringify(deployment(id)));
    const result = await CliProcess.run(['publish', file, '--wait', '30s'], {
      REDIS_URL: redis.url,
      STREAM_PREFIX: prefix,
      REGISTRY_PREFIX: `${prefix}:registry`,
      HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    });
    rmSync(file, { force: true });
    expect(result.code).toBe(0);
    const traceId = /^trace ([0-9a-f]{32})$/m.exec(result.stdout)?.[1];
    // publish prints the event id first: the validator's span names it.
    const eventId = result.stdout.split('\n')[0] ?? '';
    const spans = await traceOf(receiver, eventId, (trace) => trace.length > 0);
    expect(spans[0]?.traceId).toBe(traceId);
  });

  it('loads the OpenTelemetry SDK, as the require.cache probe shows', async () => {
    await stopService(service);
    service = undefined;
    const { packages } = loadedPackages(probeOut);
    expect(packages).toEqual(
      expect.arrayContaining([
        '@opentelemetry/api',
        '@opentelemetry/core',
        '@opentelemetry/resources',
        '@opentelemetry/sdk-trace-base',
        protocol === 'http/json'
          ? '@opentelemetry/exporter-trace-otlp-http'
          : '@opentelemetry/exporter-trace-otlp-proto',
      ]),
    );
  });
});

describe('tracing when the collector does not answer', () => {
  let collector: Server;
  const sockets = new Set<Socket>();
  let service: Service | undefined;

  beforeAll(async () => {
    // Accepts connections and never answers: every export hangs until its timeout.
    collector = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((done) => collector.listen(0, '127.0.0.1', done));
    const { port } = collector.address() as { port: number };
    service = await startService({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      // A tiny queue, so that spans are dropped within a deployment or two.
      OTEL_BSP_MAX_QUEUE_SIZE: '4',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
      SHUTDOWN_TIMEOUT_MS: '4000',
    });
  }, 60_000);

  afterAll(async () => {
    await stopService(service);
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise<void>((done) => collector.close(() => done()));
  });

  it('keeps the pipeline moving, counts the dropped spans and exits within its shutdown deadline', async () => {
    const { app, base, prefix } = service as Service;
    for (let i = 0; i < 3; i += 1) {
      await publish(prefix, deployment(`dep-down-${i}-${randomUUID().slice(0, 4)}`));
    }
    await eventually(async () => (await admin.xlen(`${prefix}:notification:sent`)) === 3, 30_000);
    let dropped = 0;
    await eventually(async () => {
      const text = (await httpGet(`${base}/metrics`)).text;
      dropped = sampleValue(text, 'printery_tracing_spans_dropped_total') ?? 0;
      return dropped > 0;
    });
    expect(dropped).toBeGreaterThan(0);
    await app.waitForEvent('tracing.spans_dropped');

    const signalled = Date.now();
    app.signal('SIGTERM');
    const exit = await app.waitForExit(20_000);
    service = undefined;
    expect(exit.code).toBe(0);
    // The export still hanging (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s) does not hold the exit.
    expect(Date.now() - signalled).toBeLessThan(4000);
  });
});

describe('with no OTLP endpoint', () => {
  it('loads no OpenTelemetry SDK module: only the API, which prom-client requires', async () => {
    const probeOut = join(tmpdir(), `printery-require-cache-${randomUUID()}.json`);
    const service = await startService({}, probeOut);
    await stopService(service);
    const { packages, parents } = loadedPackages(probeOut);
    expect(packages).toEqual(['@opentelemetry/api']);
    expect(parents).toEqual(['prom-client']);
  });

  it('config shows the OpenTelemetry settings without the header secret', async () => {
    const result = await CliProcess.run(['config', '--json'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://otel:${URL_PASSWORD}@collector.internal:4318`,
      OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${HEADER_SECRET},x-team=platform`,
      OTEL_SERVICE_NAME: 'printery-staging',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as {
      config: { tracing: Record<string, unknown> };
      sources: Record<string, { from: string; name?: string }>;
    };
    expect(shown.config.tracing).toMatchObject({
      endpoint: 'http://otel:[REDACTED]@collector.internal:4318',
      headers: 'x-api-key=[REDACTED],x-team=[REDACTED]',
      protocol: 'http/protobuf',
      serviceName: 'printery-staging',
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.25,
    });
    expect(shown.sources['tracing.headers']).toEqual({
      from: 'environment',
      name: 'OTEL_EXPORTER_OTLP_HEADERS',
    });
    expect(result.stdout + result.stderr).not.toContain(HEADER_SECRET);
    expect(result.stdout + result.stderr).not.toContain(URL_PASSWORD);
  });

  it('refuses a protocol the exporter cannot speak, naming the variable', async () => {
    const result = await CliProcess.run(['config'], { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not valid; expected one of http/protobuf, http/json',
    );
  });
});
