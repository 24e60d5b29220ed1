import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { CliProcess, eventually, httpGet, type LogLine } from '../helpers/cli-process';
import { LoopbackSink, reply } from '../../dev/loopback-sink';
import { RedisServer, freePort } from '../../dev/redis-server';

// Real: the built CLI (dist/main.js, with whatever workers WorkersModule
// registers), a redis-server of our own, HTTP on loopback, OS signals.
// Faults are injected from outside, as an operator or a network would.

interface WorkerStatus {
  name: string;
  state: string;
  healthy: boolean;
  restarts: number;
  lastError: string | null;
}

interface StatusBody {
  ready: boolean;
  workers: WorkerStatus[];
}

let redis: RedisServer;
let admin: Redis;
let app: CliProcess | undefined;

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = redis.client();
});

afterEach(async () => {
  await app?.dispose();
  app = undefined;
});

afterAll(async () => {
  admin.disconnect();
  await redis.dispose();
});

interface Started {
  proc: CliProcess;
  base: string;
  prefix: string;
}

/** Starts the real service on a fresh key prefix and port; resolves once every worker runs. */
async function startApp(
  env: NodeJS.ProcessEnv = {},
  prefix = `e2e-sup-${randomUUID().slice(0, 8)}`,
): Promise<Started> {
  const port = await freePort();
  const proc = new CliProcess(['run'], {
    REDIS_URL: redis.url,
    PORT: String(port),
    STREAM_PREFIX: prefix,
    REGISTRY_PREFIX: `${prefix}:registry`,
    ENVIRONMENT: 'development',
    LOG_LEVEL: 'info',
    STARTUP_TIMEOUT_MS: '5000',
    STREAM_BLOCK_MS: '200',
    CLAIM_IDLE_MS: '60000',
    HEALTH_CHECK_INTERVAL_MS: '200',
    HANG_THRESHOLD_MS: '1500',
    RESTART_BACKOFF_MS: '100',
    RESTART_BACKOFF_MAX_MS: '1000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ...env,
  });
  app = proc;
  const base = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => (await status(base)).ready, 20_000, 100);
  } catch (error) {
    const last = await status(base).catch((e: Error) => e.message);
    throw new Error(
      `service not ready: ${(error as Error).message}\nstatus: ${JSON.stringify(last)}\nstderr: ${proc.stderr}\nlog tail:\n${proc.stdout.slice(-3000)}`,
    );
  }
  return { proc, base, prefix };
}

async function status(base: string): Promise<StatusBody> {
  return (await httpGet(`${base}/status`)).body as StatusBody;
}

/** Adds a deployment:started event; any valid envelope gets a validation:completed answer. */
async function publish(prefix: string, id = randomUUID()): Promise<string> {
  const deploymentId = `dep-${id.slice(0, 8)}`;
  await admin.xadd(
    `${prefix}:deployment:started`,
    '*',
    'specversion',
    '1.0',
    'id',
    id,
    'type',
    'deployment:started',
    'source',
    'e2e',
    'subject',
    deploymentId,
    'datacontenttype',
    'application/json',
    'data',
    JSON.stringify({
      deploymentId,
      service: 'billing-api',
      version: '1.4.2',
      environment: 'development',
      artifact: 'registry.example.com/billing-api:1.4.2',
      dependencies: [],
      notify: [],
      requestedBy: 'e2e',
    }),
  );
  return id;
}

/** causationid of every validation:completed entry, i.e. the inputs the validator committed. */
async function validatedIds(prefix: string): Promise<string[]> {
  const entries = await admin.xrange(`${prefix}:validation:completed`, '-', '+');
  return entries.map(([, fields]) => {
    const i = fields.indexOf('causationid');
    return i >= 0 ? (fields[i + 1] ?? '') : '';
  });
}

async function processed(prefix: string, id: string): Promise<boolean> {
  return (await validatedIds(prefix)).includes(id);
}

function logsOf(proc: CliProcess, event: string, worker?: string): LogLine[] {
  return proc.logs.filter((l) => l.event === event && (!worker || l.worker === worker));
}

/** Ids of the app's own connections: ours (admin) is a plain client without a printery name. */
async function appClientIds(): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .filter((line) => /name=printery:/.test(line))
    .map((line) => /id=(\d+)/.exec(line)?.[1] ?? '')
    .filter(Boolean);
}

describe('printery-workers run under the supervisor', () => {
  describe('when Redis drops every client connection', () => {
    it('returns all workers to running and processes the next event (supervised)', async () => {
      const { proc, base, prefix } = await startApp({ SUPERVISED_MODE: 'true' });
      const first = await publish(prefix);
      await eventually(() => processed(prefix, first), 10_000);

      const killed = await appClientIds();
      expect(killed.length).toBeGreaterThan(1);
      for (const id of killed) {
        await admin.client('KILL', 'ID', id);
      }
      // Every one of the app's connections is new afterwards.
      await eventually(async () => {
        const now = await appClientIds();
        return now.length >= killed.length && now.every((id) => !killed.includes(id));
      }, 10_000);
      await eventually(async () => {
        const body = await status(base);
        return body.ready && body.workers.every((w) => w.state === 'running' && w.healthy);
      }, 15_000);
      expect((await httpGet(`${base}/health/ready`)).status).toBe(200);

      const next = await publish(prefix);
      await eventually(() => processed(prefix, next), 10_000);
      expect(proc.child.exitCode).toBeNull();
    });
  });

  describe('when the read loop hangs (CLIENT PAUSE longer than the hang bound)', () => {
    it('detects it, restarts the workers and then processes the next event', async () => {
      const { proc, base, prefix } = await startApp({ SUPERVISED_MODE: 'true' });
      await admin.client('PAUSE', 4000, 'ALL');

      const unhealthy = await proc.waitForLog(
        (l) => l.event === 'worker.unhealthy' && /not polled/.test(String(l.reason)),
        10_000,
      );
      const worker = String(unhealthy.worker);
      await proc.waitForLog((l) => l.event === 'worker.restarting' && l.worker === worker, 5_000);
      await proc.waitForLog(
        (l) => l.event === 'worker.running' && l.worker === worker && l.reason === 'restart',
        20_000,
      );
      await eventually(async () => {
        const body = await status(base);
        return body.ready && body.workers.every((w) => w.state === 'running');
      }, 20_000);
      const body = await status(base);
      expect(body.workers.find((w) => w.name === worker)?.restarts).toBeGreaterThanOrEqual(1);
      const metrics = (await httpGet(`${base}/metrics`)).text;
      expect(metrics).toMatch(
        new RegExp(`printery_worker_restarts_total\\{worker="${worker}"\\} [1-9]`),
      );

      const next = await publish(prefix);
      await eventually(() => processed(prefix, next), 10_000);
    });
  });

  describe('when a worker cannot recover', () => {
    /** Makes the validator's input stream a plain string: every read and group create then fails. */
    async function breakValidatorStream(prefix: string): Promise<void> {
      const stream = `${prefix}:deployment:started`;
      await admin.multi().del(stream).set(stream, 'not a stream').exec();
    }

    it('standalone: drains the other workers and exits 1', async () => {
      const { proc, prefix } = await startApp({ SUPERVISED_MODE: 'false' });
      await breakValidatorStream(prefix);

      const exit = await proc.waitForExit(20_000);
      expect(exit.code).toBe(1);
      const failed = logsOf(proc, 'worker.failed', 'validator');
      expect(failed).toHaveLength(1);
      expect(String(failed[0]?.reason)).toMatch(/not polled/);
      // The others were drained, not killed.
      for (const other of ['dependency', 'health', 'notifier']) {
        expect(logsOf(proc, 'worker.stopped', other)).toHaveLength(1);
      }
      expect(logsOf(proc, 'shutdown.completed')[0]).toMatchObject({ exitCode: 1 });
    });

    it('supervised: gives up after the restart attempts, reports it down, keeps the others running', async () => {
      const { proc, base, prefix } = await startApp({
        SUPERVISED_MODE: 'true',
        MAX_RESTART_ATTEMPTS: '2',
      });
      await breakValidatorStream(prefix);

      const gaveUp = await proc.waitForLog(
        (l) => l.event === 'worker.failed' && l.worker === 'validator',
        30_000,
      );
      expect(gaveUp).toMatchObject({ level: 'error', kind: 'gave_up', attempts: 2 });
      expect(logsOf(proc, 'worker.restarting', 'validator')).toHaveLength(2);

      const body = await status(base);
      expect(body.ready).toBe(false);
      expect(body.workers.find((w) => w.name === 'validator')).toMatchObject({
        state: 'failed',
        restarts: 2,
      });
      expect(body.workers.filter((w) => w.name !== 'validator').map((w) => w.state)).toEqual(
        body.workers.filter((w) => w.name !== 'validator').map(() => 'running'),
      );
      expect((await httpGet(`${base}/health/ready`)).status).toBe(503);
      const metrics = (await httpGet(`${base}/metrics`)).text;
      expect(metrics).toContain(
        'printery_worker_errors_total{worker="validator",kind="gave_up"} 1',
      );
      expect(metrics).toContain('printery_worker_up{worker="validator"} 0');
      expect(proc.child.exitCode).toBeNull();
    });
  });

  describe('on signals', () => {
    it('SIGTERM during a burst exits 0, commits nothing twice and leaves the rest for the next run', async () => {
      const { proc, prefix } = await startApp();
      const ids: string[] = [];
      for (let i = 0; i < 300; i += 1) {
        ids.push(await publish(prefix));
      }
      // Work is under way, far from done.
      await eventually(async () => (await validatedIds(prefix)).length > 0, 10_000, 5);
      proc.signal('SIGTERM');
      const exit = await proc.waitForExit(15_000);
      expect(exit.code).toBe(0);

      const done = await validatedIds(prefix);
      // Graceful: nothing processed twice.
      expect(new Set(done).size).toBe(done.length);
      // Nothing lost: every input is either committed or still waiting in Redis.
      const stream = `${prefix}:deployment:started`;
      const pending = (await admin.xpending(stream, 'printery-validator', '-', '+', 1000)) as Array<
        [string, string, number, number]
      >;
      const [groupInfo] = ((await admin.xinfo('GROUPS', stream)) as unknown[][]).map(
        (row) => Object.fromEntries(chunk(row)) as Record<string, unknown>,
      );
      const entries = await admin.xrange(stream, '-', '+');
      const lastDelivered = String(groupInfo?.['last-delivered-id']);
      const undelivered = entries.filter(([id]) => compareIds(id, lastDelivered) > 0).length;
      expect(done.length + pending.length + undelivered).toBe(ids.length);

      // And the rest is picked up by the next run.
      const again = await startApp({}, prefix);
      await eventually(async () => (await validatedIds(prefix)).length === ids.length, 30_000);
      expect(new Set(await validatedIds(prefix))).toEqual(new Set(ids));
      again.proc.signal('SIGTERM');
      expect((await again.proc.waitForExit(10_000)).code).toBe(0);
    });

    it('SIGTERM during a slow health probe stops reading at once, lets the probe finish, commits it and exits 0', async () => {
      // The Health Monitor's probe target answers only after a while: that
      // probe is the in-flight work the signal arrives in the middle of.
      let probed!: () => void;
      const probeArrived = new Promise<void>((resolve) => {
        probed = resolve;
      });
      const target = await LoopbackSink.start({
        answer: (_req, res) => {
          probed();
          setTimeout(() => reply(res, 200), 2000);
        },
      });
      try {
        const { proc, prefix } = await startApp({ HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1' });
        const deploymentId = `dep-${randomUUID().slice(0, 8)}`;
        await admin.xadd(
          `${prefix}:deployment:started`,
          '*',
          'id',
          randomUUID(),
          'type',
          'deployment:started',
          'subject',
          deploymentId,
          'data',
          JSON.stringify({
            deploymentId,
            service: 'billing-api',
            version: '1.4.2',
            environment: 'development',
            artifact: 'registry.example.com/billing-api:1.4.2',
            dependencies: [],
            healthCheck: {
              url: target.url('/health'),
              expectedStatus: 200,
              timeoutMs: 5000,
              intervalMs: 100,
              maxAttempts: 1,
            },
            notify: [],
            requestedBy: 'e2e',
          }),
        );
        await probeArrived;
        const signalledAt = performance.now();
        proc.signal('SIGTERM');
        // New input while the probe holds the drain open: the validator (which
        // drains last) must not take it (SPEC §3: reading stops at once).
        await proc.waitForEvent('supervisor.draining', 5_000);
        // Its blocked read is cut at once, not after the 2 s its dependants drain.
        await eventually(
          async () =>
            !((await admin.client('LIST')) as string).includes('name=printery:validator:read'),
          1_000,
          20,
        );
        for (let i = 0; i < 3; i += 1) {
          await publish(prefix);
        }
        const stream = `${prefix}:deployment:started`;
        const lateIds = (await admin.xrange(stream, '-', '+')).slice(-3).map(([id]) => id);
        const exit = await proc.waitForExit(15_000);
        const drainMs = Math.round(performance.now() - signalledAt);
        expect(exit.code).toBe(0);
        expect(drainMs).toBeGreaterThan(1000);
        // The probe finished during the drain and its outcome was committed.
        const checked = await admin.xrange(`${prefix}:health:checked`, '-', '+');
        expect(checked).toHaveLength(1);
        expect(checked[0]?.[1].join(' ')).toContain(deploymentId);
        const pending = (await admin.xpending(
          `${prefix}:dependency:checked`,
          'printery-health',
        )) as [number, ...unknown[]];
        expect(pending[0]).toBe(0);
        // The entries added during the drain were never delivered: they wait for the next run.
        const [groupInfo] = ((await admin.xinfo('GROUPS', stream)) as unknown[][]).map(
          (row) => Object.fromEntries(chunk(row)) as Record<string, unknown>,
        );
        const lastDelivered = String(groupInfo?.['last-delivered-id']);
        for (const id of lateIds) {
          expect(compareIds(id, lastDelivered)).toBeGreaterThan(0);
        }
        expect(logsOf(proc, 'worker.stop_timeout')).toHaveLength(0);
      } finally {
        await target.close();
      }
    });

    it('SIGTERM while idle exits 0 well under a second', async () => {
      const { proc } = await startApp();
      const signalledAt = performance.now();
      proc.signal('SIGTERM');
      const exit = await proc.waitForExit(5_000);
      const elapsedMs = Math.round(performance.now() - signalledAt);
      expect(exit.code).toBe(0);
      expect(elapsedMs).toBeLessThan(1000);
      expect(logsOf(proc, 'shutdown.completed')[0]).toMatchObject({ exitCode: 0 });
      expect(logsOf(proc, 'worker.stopped').length).toBeGreaterThan(0);
    });

    it('a second SIGINT during a slow drain exits at once with 130', async () => {
      const { proc } = await startApp();
      // A paused Redis makes the drain wait on its connections.
      await admin.client('PAUSE', 5000, 'ALL');
      proc.signal('SIGINT');
      await proc.waitForEvent('shutdown.started', 5_000);
      const secondAt = performance.now();
      proc.signal('SIGINT');
      const exit = await proc.waitForExit(5_000);
      const elapsedMs = Math.round(performance.now() - secondAt);
      expect(exit.code).toBe(130);
      expect(elapsedMs).toBeLessThan(1000);
      expect(logsOf(proc, 'shutdown.forced')).toHaveLength(1);
      await admin.client('UNPAUSE');
    });
  });
});

function chunk(row: unknown[]): Array<[string, unknown]> {
  const pairs: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < row.length; i += 2) {
    pairs.push([String(row[i]), row[i + 1]]);
  }
  return pairs;
}

function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
