import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type Redis from 'ioredis';
import { CliProcess, eventually, httpGet } from '../helpers/cli-process';
import { LoopbackSink, type SinkRequest, hitsOf, reply } from '../../dev/loopback-sink';
import { RedisServer, freePort } from '../../dev/redis-server';

// Real: the built CLI (dist/main.js) running all four workers, a
// redis-server of our own, loopback HTTP services for health probes and
// webhooks. Nothing inside the app is faked; faults come from the services.

const SECRET = 'e2e-webhook-secret-value';
const TOTAL_TIMEOUT_MS = 90_000;

function validSignature(entry: SinkRequest): boolean {
  const header = entry.headers['x-printery-signature'];
  if (typeof header !== 'string') {
    return false;
  }
  const expected = `sha256=${createHmac('sha256', SECRET).update(entry.body).digest('hex')}`;
  return (
    header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected))
  );
}

type Fields = Record<string, string>;

function toFields(flat: string[]): Fields {
  const out: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out[flat[i] as string] = flat[i + 1] as string;
  }
  return out;
}

async function readStream(
  redis: Redis,
  key: string,
): Promise<Array<{ id: string; fields: Fields }>> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([id, flat]) => ({ id, fields: toFields(flat) }));
}

interface NotificationData {
  deploymentId: string | null;
  outcome: 'succeeded' | 'failed';
  failedStage: string | null;
  reason: string | null;
  targets: Array<{ type: string; target: string; status: string; attempts: number }>;
}

let redis: RedisServer;
let admin: Redis;
let app: CliProcess;
let health: LoopbackSink;
let sink: LoopbackSink;
let trap: LoopbackSink;
const prefix = `e2e-flow-${randomUUID().slice(0, 8)}`;
const registryPrefix = `${prefix}:registry`;
const stream = (type: string) => `${prefix}:${type}`;

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = redis.client();
  // 127.0.0.2 is loopback too, but outside the allow-lists: it stands for
  // every host the app must never reach, and records anything that does.
  trap = await LoopbackSink.start({ host: '127.0.0.2', answer: (_req, res) => reply(res, 200) });
  health = await LoopbackSink.start({
    answer: ({ path }, res, received) => {
      if (path === '/healthy') {
        reply(res, 200);
      } else if (path === '/always-503') {
        reply(res, 503);
      } else if (path === '/flapping') {
        reply(res, hitsOf(received, path) <= 2 ? 503 : 200);
      } else if (path === '/slow') {
        setTimeout(() => reply(res, 200), 1500).unref();
      } else if (path === '/redirect') {
        reply(res, 302, { location: `${trap.base}/health` });
      } else {
        reply(res, 404);
      }
    },
  });
  sink = await LoopbackSink.start({
    answer: ({ path }, res, received) => {
      if (path === '/hooks/flaky') {
        reply(res, hitsOf(received, path) <= 2 ? 500 : 200);
      } else if (path === '/hooks/bad') {
        reply(res, 400);
      } else if (path === '/hooks/redirect') {
        reply(res, 307, { location: `${trap.base}/hook` });
      } else {
        reply(res, 200);
      }
    },
  });

  await admin.hset(registryPrefix + ':staging', {
    'auth-api': JSON.stringify({
      version: '2.3.0',
      deploymentId: 'seed',
      dependencies: [],
      healthy: true,
      updatedAt: null,
    }),
    'old-lib': JSON.stringify({
      version: '1.0.0',
      deploymentId: 'seed',
      dependencies: [],
      healthy: true,
      updatedAt: null,
    }),
    'sick-api': JSON.stringify({
      version: '3.0.0',
      deploymentId: 'seed',
      dependencies: [],
      healthy: false,
      updatedAt: null,
    }),
    'ring-b': JSON.stringify({
      version: '1.0.0',
      deploymentId: 'seed',
      dependencies: [{ service: 'ring-a', version: '*' }],
      healthy: true,
      updatedAt: null,
    }),
  });

  const port = await freePort();
  app = new CliProcess(['run'], {
    REDIS_URL: redis.url,
    PORT: String(port),
    STREAM_PREFIX: prefix,
    REGISTRY_PREFIX: registryPrefix,
    ENVIRONMENT: 'development',
    LOG_LEVEL: 'info',
    HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_WEBHOOK_SECRET: SECRET,
    NOTIFY_WEBHOOK_URLS: `${sink.base}/hooks/default`,
    NOTIFY_BACKOFF_MS: '50',
    CLAIM_IDLE_MS: '2000',
    DEPLOY_ENVIRONMENTS: 'staging,production',
  });
  await eventually(
    async () => (await httpGet(`http://127.0.0.1:${port}/health/ready`)).status === 200,
    30_000,
  );
}, 60_000);

afterAll(async () => {
  if (app) {
    app.signal('SIGTERM');
    await app.waitForExit(20_000).catch(() => app.dispose());
  }
  admin?.disconnect();
  await Promise.all([health, sink, trap].filter(Boolean).map((l) => l.close()));
  await redis?.dispose();
});

/** A valid request; `over` replaces top-level fields. */
function request(service: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deploymentId: `dep-${service}`,
    service,
    version: '1.0.0',
    environment: 'staging',
    artifact: `registry.example.com/${service}:1.0.0`,
    dependencies: [],
    healthCheck: { url: `${health.base}/healthy`, timeoutMs: 500, intervalMs: 50, maxAttempts: 3 },
    notify: [],
    requestedBy: 'e2e',
    ...over,
  };
}

async function publish(
  data: unknown,
  deploymentId: string,
): Promise<{ eventId: string; entryId: string }> {
  const eventId = randomUUID();
  const entryId = await admin.xadd(
    stream('deployment:started'),
    '*',
    'specversion',
    '1.0',
    'id',
    eventId,
    'type',
    'deployment:started',
    'source',
    'e2e',
    'subject',
    deploymentId,
    'time',
    new Date().toISOString(),
    'datacontenttype',
    'application/json',
    'data',
    JSON.stringify(data),
  );
  return { eventId, entryId: entryId as string };
}

interface Case {
  name: string;
  data: Record<string, unknown>;
  outcome: 'succeeded' | 'failed';
  failedStage: string | null;
  /** Causation hops from notification:sent back to deployment:started. */
  hops: number;
  reason?: RegExp;
}

describe('the four workers, end to end', () => {
  const cases = (): Case[] => [
    {
      name: 'valid',
      data: request('svc-valid', { dependencies: [{ service: 'auth-api', version: '^2.0.0' }] }),
      outcome: 'succeeded',
      failedStage: null,
      hops: 4,
    },
    {
      name: 'invalid with several errors',
      data: request('svc-invalid', { version: 'latest', environment: 'moon', artifact: undefined }),
      outcome: 'failed',
      failedStage: 'validation',
      hops: 2,
      reason: /\$\.version .*\$\.environment .*\$\.artifact is required/,
    },
    {
      name: 'missing dependency',
      data: request('svc-missing', { dependencies: [{ service: 'ghost-api', version: '^1.0.0' }] }),
      outcome: 'failed',
      failedStage: 'dependency',
      hops: 3,
      reason: /ghost-api missing/,
    },
    {
      name: 'version mismatch',
      data: request('svc-mismatch', { dependencies: [{ service: 'old-lib', version: '^2.0.0' }] }),
      outcome: 'failed',
      failedStage: 'dependency',
      hops: 3,
      reason: /old-lib version_mismatch/,
    },
    {
      name: 'dependency unhealthy',
      data: request('svc-sickdep', { dependencies: [{ service: 'sick-api', version: '^3.0.0' }] }),
      outcome: 'failed',
      failedStage: 'dependency',
      hops: 3,
      reason: /sick-api unhealthy/,
    },
    {
      name: 'dependency cycle',
      data: request('ring-a', { dependencies: [{ service: 'ring-b', version: '*' }] }),
      outcome: 'failed',
      failedStage: 'dependency',
      hops: 3,
      reason: /ring-a -> ring-b -> ring-a/,
    },
    {
      name: 'unhealthy target',
      data: request('svc-down', {
        healthCheck: { url: `${health.base}/always-503`, intervalMs: 20, maxAttempts: 3 },
      }),
      outcome: 'failed',
      failedStage: 'health',
      hops: 4,
      reason: /after 3 attempts: status 503/,
    },
    {
      name: 'flapping target',
      data: request('svc-flap', {
        healthCheck: { url: `${health.base}/flapping`, intervalMs: 20, maxAttempts: 5 },
      }),
      outcome: 'succeeded',
      failedStage: null,
      hops: 4,
    },
    {
      name: 'slow target',
      data: request('svc-slow', {
        healthCheck: { url: `${health.base}/slow`, timeoutMs: 150, intervalMs: 10, maxAttempts: 2 },
      }),
      outcome: 'failed',
      failedStage: 'health',
      hops: 4,
      reason: /no answer within 150ms/,
    },
    {
      name: 'webhook 500 twice then 200',
      data: request('svc-hook-flaky', {
        notify: [{ type: 'webhook', url: `${sink.base}/hooks/flaky` }],
      }),
      outcome: 'succeeded',
      failedStage: null,
      hops: 4,
    },
    {
      name: 'webhook 400',
      data: request('svc-hook-bad', {
        notify: [{ type: 'webhook', url: `${sink.base}/hooks/bad` }],
      }),
      outcome: 'succeeded',
      failedStage: null,
      hops: 4,
    },
    {
      name: 'health check at the metadata address',
      data: request('ssrf-health-meta', {
        healthCheck: { url: 'http://169.254.169.254/latest/meta-data/' },
      }),
      outcome: 'failed',
      failedStage: 'validation',
      hops: 2,
      reason: /\$\.healthCheck\.url host 169\.254\.169\.254 is a cloud metadata address/,
    },
    {
      name: 'health check at a disallowed host',
      data: request('ssrf-health-host', { healthCheck: { url: `${trap.base}/health` } }),
      outcome: 'failed',
      failedStage: 'validation',
      hops: 2,
      reason: /\$\.healthCheck\.url host 127\.0\.0\.2 is not allowed/,
    },
    {
      name: 'health check redirecting to a disallowed host',
      data: request('ssrf-health-redirect', {
        healthCheck: { url: `${health.base}/redirect`, maxAttempts: 1 },
      }),
      outcome: 'failed',
      failedStage: 'health',
      hops: 4,
      reason: /status 302, expected 200 \(redirects are not followed\)/,
    },
    {
      name: 'webhook at the metadata address',
      data: request('ssrf-hook-meta', {
        notify: [{ type: 'webhook', url: 'http://169.254.169.254/hook' }],
      }),
      outcome: 'failed',
      failedStage: 'validation',
      hops: 2,
      reason: /\$\.notify\[0\]\.url host 169\.254\.169\.254 is a cloud metadata address/,
    },
    {
      name: 'webhook at a disallowed host',
      data: request('ssrf-hook-host', { notify: [{ type: 'webhook', url: `${trap.base}/hook` }] }),
      outcome: 'failed',
      failedStage: 'validation',
      hops: 2,
      reason: /\$\.notify\[0\]\.url host 127\.0\.0\.2 is not allowed/,
    },
    {
      name: 'webhook redirecting to a disallowed host',
      data: request('ssrf-hook-redirect', {
        notify: [{ type: 'webhook', url: `${sink.base}/hooks/redirect` }],
      }),
      outcome: 'succeeded',
      failedStage: null,
      hops: 4,
    },
  ];

  let all: Case[];
  const published = new Map<string, { eventId: string }>();
  const notifications = new Map<
    string,
    Array<{ id: string; fields: Fields; data: NotificationData }>
  >();
  const events = new Map<string, Fields>();

  beforeAll(async () => {
    all = cases();
    for (const c of all) {
      published.set(c.name, await publish(c.data, String(c.data.deploymentId)));
    }
    await eventually(
      async () => {
        if ((await admin.xlen(stream('notification:sent'))) < all.length) {
          return false;
        }
        // Every group idle: nothing pending that could still add an entry.
        for (const { stream: key, group } of [
          { stream: 'deployment:started', group: 'validator' },
          { stream: 'validation:completed', group: 'dependency' },
          { stream: 'dependency:checked', group: 'health' },
          { stream: 'validation:completed', group: 'notifier' },
          { stream: 'dependency:checked', group: 'notifier' },
          { stream: 'health:checked', group: 'notifier' },
        ]) {
          const [count] = (await admin.xpending(stream(key), `printery-${group}`)) as [number];
          if (count > 0) {
            return false;
          }
        }
        return true;
      },
      TOTAL_TIMEOUT_MS,
      100,
    );
    for (const type of [
      'deployment:started',
      'validation:completed',
      'dependency:checked',
      'health:checked',
      'notification:sent',
    ]) {
      for (const entry of await readStream(admin, stream(type))) {
        events.set(entry.fields.id as string, entry.fields);
        if (type === 'notification:sent') {
          const data = JSON.parse(entry.fields.data as string) as NotificationData;
          const key = String(data.deploymentId);
          notifications.set(key, [...(notifications.get(key) ?? []), { ...entry, data }]);
        }
      }
    }
  }, TOTAL_TIMEOUT_MS + 10_000);

  it('publishes exactly one notification:sent per deployment, with the right outcome and stage', () => {
    const summary = all.map((c) => {
      const sent = notifications.get(String(c.data.deploymentId)) ?? [];
      return [c.name, sent.length, sent[0]?.data.outcome, sent[0]?.data.failedStage];
    });
    expect(summary).toEqual(all.map((c) => [c.name, 1, c.outcome, c.failedStage]));
    expect(notifications.size).toBe(all.length);
  });

  it('gives the reason of each failure', () => {
    for (const c of all.filter((x) => x.reason)) {
      const [sent] = notifications.get(String(c.data.deploymentId)) ?? [];
      expect([c.name, sent?.data.reason]).toEqual([
        c.name,
        expect.stringMatching(c.reason as RegExp),
      ]);
    }
  });

  it('links every notification back to its input through causationid', () => {
    for (const c of all) {
      const [sent] = notifications.get(String(c.data.deploymentId)) ?? [];
      const chain: string[] = [];
      let current: Fields | undefined = sent?.fields;
      while (current?.causationid) {
        chain.push(current.type as string);
        current = events.get(current.causationid);
      }
      expect([c.name, current?.id, chain.length]).toEqual([
        c.name,
        published.get(c.name)?.eventId,
        c.hops,
      ]);
      expect(current?.type).toBe('deployment:started');
    }
  });

  it('delivers each notification to the default webhook exactly once, signed', () => {
    const deliveries = sink.received('/hooks/default');
    const perDeployment = new Map<string, number>();
    for (const entry of deliveries) {
      expect(validSignature(entry)).toBe(true);
      const body = JSON.parse(entry.body) as { deploymentId: string };
      perDeployment.set(body.deploymentId, (perDeployment.get(body.deploymentId) ?? 0) + 1);
    }
    expect(Object.fromEntries(perDeployment)).toEqual(
      Object.fromEntries(all.map((c) => [String(c.data.deploymentId), 1])),
    );
  });

  it('retries a webhook that fails with 500 and delivers it once, same key each time', () => {
    const attempts = sink.received('/hooks/flaky');
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.headers['idempotency-key'])).size).toBe(1);
    expect(attempts.every(validSignature)).toBe(true);
    const [sent] = notifications.get('dep-svc-hook-flaky') ?? [];
    expect(sent?.data.targets).toContainEqual({
      type: 'webhook',
      // A plain path holds no credential: it stays, so targets can be told apart.
      target: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/hooks\/flaky$/),
      status: 'delivered',
      attempts: 3,
    });
  });

  it('gives up on a webhook that answers 400 after one attempt', () => {
    expect(sink.received('/hooks/bad')).toHaveLength(1);
    const [sent] = notifications.get('dep-svc-hook-bad') ?? [];
    expect(sent?.data.targets).toContainEqual(
      expect.objectContaining({ status: 'failed', attempts: 1 }),
    );
  });

  it('reports refused webhook targets and never reaches a disallowed host', () => {
    expect(trap.requests).toEqual([]);
    for (const id of ['dep-ssrf-hook-meta', 'dep-ssrf-hook-host']) {
      const [sent] = notifications.get(id) ?? [];
      expect([id, sent?.data.targets]).toEqual([
        id,
        expect.arrayContaining([
          expect.objectContaining({ type: 'webhook', status: 'refused', attempts: 0 }),
        ]),
      ]);
    }
    const [redirected] = notifications.get('dep-ssrf-hook-redirect') ?? [];
    expect(redirected?.data.targets).toContainEqual(
      expect.objectContaining({ status: 'failed', attempts: 1 }),
    );
  });

  it('probes flapping and unhealthy targets as often as asked', () => {
    expect(hitsOf(health.requests, '/flapping')).toBe(3);
    expect(hitsOf(health.requests, '/always-503')).toBe(3);
  });

  it('leaves only the succeeded services (and the seeded ones) in the registry', async () => {
    const registry = await admin.hgetall(registryPrefix + ':staging');
    const succeeded = all
      .filter((c) => c.outcome === 'succeeded')
      .map((c) => String(c.data.service));
    expect(Object.keys(registry).sort()).toEqual(
      ['auth-api', 'old-lib', 'sick-api', 'ring-b', ...succeeded].sort(),
    );
    expect(JSON.parse(registry['svc-valid'] as string)).toMatchObject({
      version: '1.0.0',
      deploymentId: 'dep-svc-valid',
      dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
      healthy: true,
    });
  });

  it('logs one notification line per deployment, at warn when a target was not reached', () => {
    const sent = app.logs.filter((l) => l.event === 'notification.sent');
    const missed = app.logs.filter((l) => l.event === 'notification.not_delivered');
    expect(sent.length + missed.length).toBe(all.length);
    expect(missed.map((l) => l.deploymentId)).toEqual(
      expect.arrayContaining(['dep-svc-hook-bad', 'dep-ssrf-hook-meta']),
    );
    expect(missed.every((l) => l.level === 'warn')).toBe(true);
    expect(app.stdout).not.toContain(SECRET);
  });

  it('takes well under a second from publish to notification:sent for a healthy deployment', async () => {
    const samples: number[] = [];
    const serverSide: number[] = [];
    const reader = admin.duplicate();
    try {
      for (let i = 0; i < 5; i += 1) {
        const last =
          (await admin.xrevrange(stream('notification:sent'), '+', '-', 'COUNT', 1))[0]?.[0] ??
          '0-0';
        const service = `svc-latency-${i}`;
        // The blocking read is issued first so the wake-up, not a poll, ends the measurement.
        const arrived = reader.xread('BLOCK', 10_000, 'STREAMS', stream('notification:sent'), last);
        const started = performance.now();
        const { entryId } = await publish(request(service), `dep-${service}`);
        const reply = await arrived;
        samples.push(performance.now() - started);
        const sentId = reply?.[0]?.[1][0]?.[0];
        expect(sentId).toBeDefined();
        serverSide.push(Number(String(sentId).split('-')[0]) - Number(entryId.split('-')[0]));
      }
    } finally {
      reader.disconnect();
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)] as number;
    expect(median).toBeLessThan(1000);
  });
});
