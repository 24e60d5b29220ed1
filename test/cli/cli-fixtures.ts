import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliProcess, eventually } from '../helpers/cli-process';
import { freePort, type RedisServer } from '../../dev/redis-server';
import { WARM_UP_DELAY_MS } from '../../src/workers/stream-worker';

/** Environment for a spawned CLI: its own Redis and key prefixes, loopback targets allowed. */
export function cliEnv(
  redis: RedisServer,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv & { STREAM_PREFIX: string; REGISTRY_PREFIX: string } {
  const id = randomUUID().slice(0, 8);
  return {
    REDIS_URL: redis.url,
    STREAM_PREFIX: `test:${id}:events`,
    REGISTRY_PREFIX: `test:${id}:registry`,
    HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    CLAIM_IDLE_MS: '200',
    ...extra,
  };
}

/** A deployment:started payload with short, loopback health checking. */
export function deployment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deploymentId: `dep-${randomUUID().slice(0, 8)}`,
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    artifact: 'registry.example.com/billing-api:1.4.2',
    dependencies: [],
    healthCheck: {
      url: 'http://127.0.0.1:9/health',
      expectedStatus: 200,
      timeoutMs: 500,
      intervalMs: 50,
      maxAttempts: 2,
    },
    notify: [],
    requestedBy: 'e2e',
    ...overrides,
  };
}

export function writeJsonFile(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** The service (`run`) with every worker, on a free port; resolves once all four run and have warmed up. */
export async function startService(
  env: NodeJS.ProcessEnv,
): Promise<{ proc: CliProcess; url: string }> {
  const port = await freePort();
  const proc = new CliProcess(['run', '--port', String(port)], env);
  await proc.waitForEvent('service.listening', 30_000);
  await eventually(
    () => proc.logs.filter((line) => line.event === 'worker.running').length >= 4,
    30_000,
  );
  // The workers' one-time warm-up, WARM_UP_DELAY_MS after each started,
  // holds the event loop 130-300 ms (loading undici). A test bounding
  // consumer idleness at CLAIM_IDLE_MS 200 reads that as nobody reading
  // ('publish: note: … has no consumer reading'), so it starts after it.
  const lastRunning = Math.max(
    ...proc.logs
      .filter((line) => line.event === 'worker.running')
      .map((line) => Date.parse(String(line.time))),
  );
  const warmedAt = lastRunning + WARM_UP_DELAY_MS + 500;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, warmedAt - Date.now())));
  return { proc, url: `http://127.0.0.1:${port}` };
}

export async function stopService(proc: CliProcess): Promise<void> {
  proc.signal('SIGTERM');
  await proc.waitForExit(30_000);
}
