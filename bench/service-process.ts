import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { LoopbackSink } from '../dev/loopback-sink';
import { EVENT_TYPES } from '../src/streams/topology';

const CLI = resolve(__dirname, '..', 'dist', 'main.js');
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** The built service (dist/main.js run) as its own process, as the bench measures it from outside. */
export interface Service {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
}

/**
 * A deployment:started entry that passes every stage: one dependency
 * (`auth-api`, seeded by the caller), a health target and a webhook on the
 * loopback sink, both answering at once.
 */
export function deploymentFields(sink: LoopbackSink, n: number): string[] {
  const deploymentId = `bench-${n}-${randomUUID().slice(0, 8)}`;
  const data = {
    deploymentId,
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    artifact: 'registry.example.com/billing-api:1.4.2',
    dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
    healthCheck: { url: sink.url('/up'), timeoutMs: 2000, intervalMs: 100, maxAttempts: 3 },
    notify: [{ type: 'webhook', url: sink.url('/hook') }],
    requestedBy: 'bench',
  };
  return [
    'id',
    randomUUID(),
    'type',
    EVENT_TYPES.deploymentStarted,
    'source',
    'bench',
    'subject',
    deploymentId,
    'data',
    JSON.stringify(data),
  ];
}

/** The registry entry `deploymentFields` depends on, for `${registryPrefix}:staging`. */
export const SEEDED_DEPENDENCY = {
  field: 'auth-api',
  value: JSON.stringify({
    version: '2.3.0',
    deploymentId: 'seed',
    dependencies: [],
    healthy: true,
    updatedAt: null,
  }),
};

/** Starts `node dist/main.js run` on `port`, all four workers, logs discarded. */
export function spawnService(
  redisUrl: string,
  port: number,
  sink: LoopbackSink,
  prefix: string,
  extraEnv: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Service {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'run', '--port', String(port)], {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redisUrl,
      STREAM_PREFIX: prefix,
      REGISTRY_PREFIX: `${prefix}:registry`,
      ENVIRONMENT: 'development',
      HEALTHCHECK_ALLOWED_HOSTS: sink.host,
      NOTIFY_ALLOWED_HOSTS: sink.host,
      ...extraEnv,
    },
    // Logs go nowhere: reading them would load this process, not the service.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, port, exited };
}

/** Polls /health/ready until 200, at most `timeoutMs`. */
export async function untilReady(service: Service, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const answer = await fetch(`http://127.0.0.1:${service.port}/health/ready`);
      if (answer.status === 200) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await sleep(10);
  }
  throw new Error(`service not ready within ${timeoutMs}ms`);
}
