import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { CliProcess, eventually } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { LoopbackSink } from '../../dev/loopback-sink';
import { cliEnv, deployment, startService, stopService, writeJsonFile } from './cli-fixtures';

interface Letter {
  deadLetterId: string;
  stream: string;
  id: string;
  group: string;
  worker: string;
  reason: string;
  error: string;
  deliveryCount: number;
  time: string;
  fields: Record<string, string>;
}

async function list(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Letter[]> {
  const result = await CliProcess.run(['dlq', 'list', ...args], env);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Letter[];
}

/**
 * Real dependencies: the built CLI spawned as a process, a redis-server on a
 * free loopback port, the service with all four workers (MAX_DELIVERIES=2),
 * a loopback health target. Poison is made the way it happens: a malformed
 * entry, and a registry key of the wrong type that makes the Dependency
 * Checker fail until an operator repairs it.
 */
describe('printery-workers dlq', () => {
  let redis: RedisServer;
  let client: Redis;
  let dir: string;
  let target: LoopbackSink;
  let env: ReturnType<typeof cliEnv>;
  let service: Awaited<ReturnType<typeof startService>>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    target = await LoopbackSink.start();
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-dlq-'));
    env = cliEnv(redis, { MAX_DELIVERIES: '2' });
    service = await startService(env);
  });

  afterAll(async () => {
    await stopService(service.proc).finally(() => service.proc.dispose());
    await target.close();
    await client.quit();
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await client.del(`${env.STREAM_PREFIX}:dead-letter`);
  });

  it('shows a poison entry in `dlq list` and all of it in `dlq show`', async () => {
    const input = `${env.STREAM_PREFIX}:deployment:started`;
    const originalId = await client.xadd(
      input,
      '*',
      'id',
      'poison-1',
      'type',
      'deployment:started',
      'data',
      '{not json',
    );
    await eventually(async () => (await list(env)).length === 1, 20_000, 300);
    const [letter] = await list(env, ['--stream', 'deployment:started']);
    expect(letter).toMatchObject({
      stream: input,
      id: originalId,
      group: 'printery-validator',
      worker: 'validator',
      reason: 'malformed',
      fields: { id: 'poison-1', type: 'deployment:started', data: '{not json' },
    });
    expect(await list(env, ['--stream', 'health:checked'])).toEqual([]);

    const shown = await CliProcess.run(['dlq', 'show', letter?.deadLetterId ?? ''], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(letter);

    const missing = await CliProcess.run(['dlq', 'show', '1-0'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no dead letter 1-0');
  });

  it('re-drives a dead letter with `dlq replay` once its cause is fixed', async () => {
    const registryKey = `${env.REGISTRY_PREFIX}:staging`;
    // The cause: a registry key of the wrong type; the Dependency Checker's HGETALL fails.
    await client.set(registryKey, 'oops');
    const request = deployment({
      healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
    });
    const published = await CliProcess.run(
      ['publish', writeJsonFile(dir, 'ok.json', request)],
      env,
    );
    expect(published.code).toBe(0);
    await eventually(async () => (await list(env)).length === 1, 40_000, 300);
    const [letter] = await list(env);
    expect(letter).toMatchObject({
      stream: `${env.STREAM_PREFIX}:validation:completed`,
      worker: 'dependency',
      reason: 'max_deliveries',
      deliveryCount: 2,
    });
    expect(letter?.error).toMatch(/WRONGTYPE/);

    await client.del(registryKey);
    const replay = await CliProcess.run(['dlq', 'replay', letter?.deadLetterId ?? ''], env);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(
      `replayed ${letter?.deadLetterId} -> ${env.STREAM_PREFIX}:validation:completed`,
    );
    expect(replay.stdout).toContain('for printery-dependency');
    expect(await list(env)).toEqual([]);
    // Addressed to the group that gave up: the Notifier, which reads the
    // same stream and already handled the original, acks the copy untouched.
    const [, replayedFields] =
      (
        await client.xrevrange(`${env.STREAM_PREFIX}:validation:completed`, '+', '-', 'COUNT', 1)
      )[0] ?? [];
    expect(replayedFields?.slice(-2)).toEqual(['replayfor', 'printery-dependency']);

    await eventually(async () => {
      const sent = await client.xrange(`${env.STREAM_PREFIX}:notification:sent`, '-', '+');
      return sent.some(([, fields]) => {
        const data = fields[fields.indexOf('data') + 1] ?? '{}';
        const parsed = JSON.parse(data) as { deploymentId?: string; outcome?: string };
        return parsed.deploymentId === request.deploymentId && parsed.outcome === 'succeeded';
      });
    }, 30_000);
  });

  it('refuses bad replay arguments with exit 2 and reports an unknown id with exit 1', async () => {
    const none = await CliProcess.run(['dlq', 'replay'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('expected one or more entry ids, or --all');
    const bad = await CliProcess.run(['dlq', 'replay', 'abc', '--all'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ID: "abc" is not valid');
    expect(bad.stderr).toContain('not both');
    const unknown = await CliProcess.run(['dlq', 'replay', '1-0'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not replayed 1-0: no such dead letter');
  });

  it('purges with --yes, and refuses without it when not a terminal', async () => {
    const input = `${env.STREAM_PREFIX}:deployment:started`;
    for (const id of ['poison-a', 'poison-b']) {
      await client.xadd(input, '*', 'id', id, 'type', 'deployment:started');
    }
    await eventually(async () => (await list(env)).length === 2, 20_000, 300);

    const refused = await CliProcess.run(['dlq', 'purge'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('without --yes');
    expect(await list(env)).toHaveLength(2);

    const purged = await CliProcess.run(['dlq', 'purge', '--yes'], env);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toContain('purged 2 dead letter(s)');
    expect(await list(env)).toEqual([]);
  });
});
