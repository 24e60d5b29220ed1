import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { CliProcess, eventually, httpGet, runInTerminal } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { LoopbackSink } from '../../dev/loopback-sink';
import { cliEnv, deployment, startService, stopService, writeJsonFile } from './cli-fixtures';

interface Group {
  worker: string;
  stream: string;
  length: number;
  pending: number;
  lag: number | null;
  consumerList: Array<{ name: string; pending: number; idleMs: number; stuck: boolean }>;
  oldestPendingAgeMs: number | null;
}
interface Report {
  groups: Group[];
  deadLetters: { count: number };
  registry: Array<{ environment: string; services: number }>;
  instance?: {
    reachable: boolean;
    given: boolean;
    workers: Array<{ name: string; state: string }>;
  };
  attention: string[];
}

async function status(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<{ code: number | null; report: Report; stderr: string }> {
  const result = await CliProcess.run(['status', '--json', ...args], env);
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

/**
 * Real dependencies: the built CLI spawned as a process, a redis-server on a
 * free loopback port, the service with all four workers, a loopback health
 * target. A "crashed consumer" is simulated with a plain XREADGROUP that is
 * never acknowledged.
 */
describe('printery-workers status', () => {
  let redis: RedisServer;
  let client: Redis;
  let dir: string;
  let target: LoopbackSink;
  let service: Awaited<ReturnType<typeof startService>> | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
    target = await LoopbackSink.start();
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-status-'));
  });

  afterAll(async () => {
    if (service) {
      await stopService(service.proc).finally(() => service?.proc.dispose());
    }
    await target.close();
    await client.quit();
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reflects pending and lag with no workers running, then the drain, then dead letters', async () => {
    const env = cliEnv(redis);
    const input = `${env.STREAM_PREFIX}:deployment:started`;
    // A first run creates the consumer groups, as a deployed service would have.
    const first = await startService(env);
    await stopService(first.proc);

    const file = writeJsonFile(
      dir,
      'ok.json',
      deployment({
        healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
      }),
    );
    for (let i = 0; i < 3; i += 1) {
      expect((await CliProcess.run(['publish', file], env)).code).toBe(0);
    }
    // A consumer that read one entry and died before acknowledging it.
    await client.xreadgroup(
      'GROUP',
      'printery-validator',
      'ghost',
      'COUNT',
      1,
      'STREAMS',
      input,
      '>',
    );
    await client.hset(
      `${env.REGISTRY_PREFIX}:staging`,
      'auth-api',
      JSON.stringify({ version: '2.0.0', healthy: true }),
    );

    const idle = await status(env, ['--max-idle', '1h']);
    expect(idle.stderr).toBe('');
    expect(idle.code).toBe(0);
    const validator = idle.report.groups.find((group) => group.worker === 'validator');
    expect(validator).toMatchObject({ stream: input, length: 3, pending: 1, lag: 2 });
    expect(validator?.consumerList).toEqual([
      expect.objectContaining({ name: 'ghost', pending: 1, stuck: false }),
    ]);
    expect(validator?.oldestPendingAgeMs).toEqual(expect.any(Number));
    expect(idle.report.registry).toEqual([
      expect.objectContaining({ environment: 'staging', services: 1 }),
    ]);

    // The same consumer counts as stuck once it has been idle past the bound.
    const stuck = await status(env, ['--max-idle', '1ms']);
    expect(stuck.code).toBe(1);
    expect(stuck.report.attention.join('\n')).toMatch(
      /consumer ghost of printery-validator .* with 1 pending/,
    );

    const lagging = await status(env, ['--max-idle', '1h', '--max-lag', '1']);
    expect(lagging.code).toBe(1);
    expect(lagging.report.attention.join('\n')).toContain('lag 2 above 1');

    service = await startService(env);
    const running = service;
    await eventually(
      async () => {
        const { report } = await status(env, ['--max-idle', '1h']);
        return report.groups.every((group) => group.pending === 0 && group.lag === 0);
      },
      40_000,
      500,
    );
    // No --url: the instance at localhost and PORT.
    const drained = await status({ ...env, PORT: new URL(running.url).port });
    expect(drained.code).toBe(0);
    expect(drained.report.attention).toEqual([]);
    expect(drained.report.instance).toMatchObject({ reachable: true, given: false });
    expect(drained.report.instance?.workers.map((w) => [w.name, w.state])).toEqual([
      ['validator', 'running'],
      ['dependency', 'running'],
      ['health', 'running'],
      ['notifier', 'running'],
    ]);

    // A malformed entry is dead-lettered by the Validator.
    await client.xadd(
      input,
      '*',
      'id',
      'poison-1',
      'type',
      'deployment:started',
      'data',
      '{not json',
    );
    await eventually(
      async () => (await client.xlen(`${env.STREAM_PREFIX}:dead-letter`)) === 1,
      20_000,
    );
    const dead = await status(env);
    expect(dead.code).toBe(1);
    expect(dead.report.deadLetters.count).toBe(1);
    expect(dead.report.attention.join('\n')).toContain('1 dead letter(s)');
  });

  it('shows the consumers of an idle, healthy service, in status and in /status', async () => {
    const env = cliEnv(redis);
    const idle = await startService(env);
    try {
      const { code, report } = await status({ ...env, PORT: new URL(idle.url).port });
      expect(code).toBe(0);
      // Registered at start (XGROUP CREATECONSUMER), not at a first delivery that has not come.
      expect(report.groups.map((group) => [group.worker, group.consumerList.length])).toEqual([
        ['validator', 1],
        ['dependency', 1],
        ['health', 1],
        ['notifier', 1],
        ['notifier', 1],
        ['notifier', 1],
      ]);
      const live = (await httpGet(`${idle.url}/status`)).body as {
        streams: Array<{ consumers: number }>;
      };
      expect(live.streams.map((stream) => stream.consumers)).toEqual([1, 1, 1, 1, 1, 1]);
    } finally {
      await stopService(idle.proc).finally(() => idle.proc.dispose());
    }
  });

  it('says so, with exit 1, when the instance given with --url does not answer', async () => {
    const env = cliEnv(redis);
    const result = await status(env, ['--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.report.instance?.reachable).toBe(false);
    expect(result.report.attention.join('\n')).toContain(
      'instance http://127.0.0.1:9 not reachable',
    );
  });

  it('needs attention when nothing reads a stream: no group, or entries waiting and no consumer', async () => {
    const env = { ...cliEnv(redis), PORT: '9' };
    const input = `${env.STREAM_PREFIX}:deployment:started`;
    const fresh = await CliProcess.run(['status'], env);
    expect(fresh.code).toBe(1);
    // Piped: JSON, with the default instance noted as not answering, not as a problem.
    const report = JSON.parse(fresh.stdout) as Report;
    expect(report.instance).toMatchObject({ reachable: false, given: false });
    expect(report.attention).toEqual([
      expect.stringContaining(`no consumer group exists under ${env.STREAM_PREFIX}`),
    ]);

    // A group (as `run` creates it) that nobody has ever read from, with work waiting.
    await client.xgroup('CREATE', input, 'printery-validator', '0', 'MKSTREAM');
    await client.xadd(input, '*', 'id', 'e1', 'type', 'deployment:started', 'data', '{}');
    const waiting = await status(env);
    expect(waiting.code).toBe(1);
    expect(waiting.report.attention).toContain(
      `printery-validator on ${input}: 1 entry waiting and no consumer reading (none has ever attached): is the validator worker running?`,
    );
  });

  it('--watch redraws in a terminal and prints one JSON report per line when piped, until Ctrl-C', async () => {
    const env = { ...cliEnv(redis), PORT: '9' };
    const piped = new CliProcess(['status', '--watch', '200ms'], env);
    try {
      await eventually(() => piped.stdout.split('\n').length > 2, 15_000);
      piped.signal('SIGINT');
      expect((await piped.waitForExit()).code).toBe(0);
    } finally {
      await piped.dispose();
    }
    const frames = piped.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Report & { time: string });
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames[0]).toMatchObject({ time: expect.any(String), attention: expect.any(Array) });

    const clear = '\u001b[H\u001b[2J';
    const terminal = await runInTerminal(
      ['status', '--watch', '200ms'],
      env,
      (output) => output.split(clear).length > 3,
    );
    expect(terminal.code).toBe(0);
    const redraws = terminal.output.split(clear).length - 1;
    expect(redraws).toBeGreaterThanOrEqual(2);
    expect(terminal.output).toContain('every 0.2s');
    expect(terminal.output).toContain('no consumer group exists');
    expect(terminal.output).toContain('No instance answers at http://localhost:9');
  });

  it('refuses bad flags with exit 2 and never prints the Redis password', async () => {
    const env = cliEnv(redis, { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:9' });
    const bad = await CliProcess.run(['status', '--max-lag', 'lots', '--url', 'ftp://x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-lag: "lots" is not valid');
    expect(bad.stderr).toContain('--url: "ftp://x" is not valid');

    const unreachable = await CliProcess.run(['status'], env);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('unreachable');
    expect(unreachable.stderr + unreachable.stdout).not.toContain('hunter2-secret');
  });
});
