import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type Redis from 'ioredis';
import { EVENT_TYPES } from '../../src/streams/topology';
import { eventually } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { eventFields, pendingCount, readAll } from './fixtures/build-consumer';

const FIXTURE = resolve(__dirname, 'fixtures', 'consumer.ts');
const ROOT = resolve(__dirname, '..', '..');

/** A consumer in its own process, so it can really be SIGKILLed. */
class ConsumerProcess {
  readonly started: string[] = [];
  private ready = false;
  private exited = false;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffer = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const parsed = JSON.parse(line) as { started?: string; ready?: boolean };
          if (parsed.started) {
            this.started.push(parsed.started);
          }
          if (parsed.ready) {
            this.ready = true;
          }
        } catch {
          // Not one of our lines.
        }
      }
    });
    this.child.once('exit', () => {
      this.exited = true;
    });
  }

  waitReady(): Promise<void> {
    return eventually(() => this.ready, 30_000);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) {
      return;
    }
    await new Promise<void>((done) => {
      this.child.once('exit', () => done());
      this.child.kill(signal);
    });
  }
}

// Real: redis-server and two consumer processes; the first dies by SIGKILL.
describe('StreamConsumer crash recovery', () => {
  let server: RedisServer;
  let redis: Redis;
  const children: ConsumerProcess[] = [];
  const prefix = 'test:crash';
  const input = `${prefix}:${EVENT_TYPES.deploymentStarted}`;
  const output = `${prefix}:${EVENT_TYPES.validationCompleted}`;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill('SIGKILL')));
    redis.disconnect();
    await server.dispose();
  });

  it('lets a second process reclaim what a SIGKILLed one had in flight, and commits everything', async () => {
    const total = 40;
    for (let i = 0; i < total; i += 1) {
      await redis.xadd(input, '*', ...eventFields(`crash-${i}`));
    }
    const env = {
      REDIS_URL: server.url,
      STREAM_PREFIX: prefix,
      CLAIM_IDLE_MS: '1000',
      CONCURRENCY: '5',
    };
    // Handlers slow enough that entries are still in flight when the kill lands,
    // even on a loaded machine where the kill trails the 12th start by a while.
    const first = new ConsumerProcess({ ...env, CONSUMER_NAME: 'first', HANDLER_MS: '600' });
    children.push(first);
    await first.waitReady();
    // Kill it mid-run, with a full set of handlers in flight.
    await eventually(() => first.started.length >= 12);
    await first.kill('SIGKILL');
    const orphaned = await pendingCount(redis, input, 'printery-validator');
    expect(orphaned).toBeGreaterThan(0);

    const second = new ConsumerProcess({ ...env, CONSUMER_NAME: 'second', HANDLER_MS: '20' });
    children.push(second);
    await second.waitReady();
    await eventually(async () => (await redis.xlen(output)) >= total, 30_000);
    await eventually(async () => (await pendingCount(redis, input, 'printery-validator')) === 0);

    const outputs = await readAll(redis, output);
    const causes = outputs.map((o) => JSON.parse(o.fields.data ?? 'null') as { of: string });
    const distinct = new Set(causes.map((c) => c.of));
    const reprocessed = second.started.filter((id) => first.started.includes(id));
    const duplicates = outputs.length - distinct.size;
    expect(distinct.size).toBe(total);
    expect(duplicates).toBe(0);
    expect(reprocessed.length).toBe(orphaned);
    await second.kill('SIGTERM');
  });
});
