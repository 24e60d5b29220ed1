import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Redis from 'ioredis';
import { CLI, CliProcess } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { LoopbackSink } from '../../dev/loopback-sink';
import { cliEnv, deployment, startService, stopService, writeJsonFile } from './cli-fixtures';

/** Runs the built CLI with `input` on stdin (CliProcess gives its children no stdin). */
function runWithStdin(
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: resolve(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`no exit within 30s\n${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/**
 * Real dependencies: the built CLI spawned as a process, a redis-server on a
 * free loopback port, and for --wait the running service with all four
 * workers probing a loopback health target.
 */
describe('printery-workers publish', () => {
  let redis: RedisServer;
  let client: Redis;
  let dir: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
  });

  afterAll(async () => {
    await client.quit();
    await redis.dispose();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-publish-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an invalid file with every problem listed, exit 2, and adds nothing', async () => {
    const env = cliEnv(redis);
    const file = writeJsonFile(
      dir,
      'bad.json',
      deployment({
        service: 'Billing_API',
        version: 'one',
        environment: 'moon',
        dependencies: [{ service: 'auth-api', version: 'not-a-range' }],
        healthCheck: { url: 'http://169.254.169.254/latest' },
        notify: [{ type: 'fax', url: 'http://127.0.0.1/x' }],
      }),
    );
    const result = await CliProcess.run(['publish', file], env);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const path of [
      '$.service',
      '$.version',
      '$.environment',
      '$.dependencies[0].version',
      '$.healthCheck.url',
      '$.notify[0].type',
    ]) {
      expect(result.stderr).toContain(`${path}: `);
    }
    expect(result.stdout).toBe('');
    expect(await client.xlen(`${env.STREAM_PREFIX}:deployment:started`)).toBe(0);
  });

  it('refuses a file that is not JSON, and a missing file, with exit 2', async () => {
    const env = cliEnv(redis);
    const notJson = await CliProcess.run(
      ['publish', writeJsonFile(dir, 'x.json', '{"deploymentId": ')],
      env,
    );
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('not valid JSON');
    const missing = await CliProcess.run(['publish', join(dir, 'nope.json')], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read (ENOENT)');
  });

  it('validates only with --dry-run', async () => {
    const env = cliEnv(redis);
    const request = deployment();
    const result = await CliProcess.run(
      ['publish', '--dry-run', writeJsonFile(dir, 'ok.json', request)],
      env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`valid: ${String(request.deploymentId)}`);
    expect(await client.xlen(`${env.STREAM_PREFIX}:deployment:started`)).toBe(0);
  });

  it('accepts the shipped examples, and refuses the invalid one with every problem', async () => {
    // The examples name staging hosts and public webhooks, as a real request would.
    const env = {
      ...cliEnv(redis),
      HEALTHCHECK_ALLOWED_HOSTS: '*.staging.internal',
      NOTIFY_ALLOWED_HOSTS: 'hooks.example.com,hooks.slack.com',
    };
    const files = ['deployment', 'missing-dependency', 'unhealthy', 'invalid-request'];
    const results = await Promise.all(
      files.map((name) => CliProcess.run(['publish', '--dry-run', `examples/${name}.json`], env)),
    );
    expect(results.map((result) => result.code)).toEqual([0, 0, 0, 2]);
    expect(results[0]?.stdout).toContain('valid: dep-2026-0042 (billing-api@1.4.2 to staging)');
    expect(results[3]?.stderr.trim().split('\n').length).toBeGreaterThanOrEqual(10);
  });

  it('adds a CloudEvents entry read from stdin and prints its event id', async () => {
    const env = cliEnv(redis);
    const request = deployment();
    const result = await runWithStdin(['publish', '-'], env, JSON.stringify(request));
    // Published all the same; the service reads it once it runs.
    expect(result.stderr).toBe(
      `printery-workers: note: no consumer group reads deployment:started (printery-validator): nothing is running against this Redis with STREAM_PREFIX ${env.STREAM_PREFIX}\n`,
    );
    expect(result.code).toBe(0);
    const eventId = result.stdout.trim();
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);

    const entries = await client.xrange(`${env.STREAM_PREFIX}:deployment:started`, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = Object.fromEntries(
      (entries[0]?.[1] ?? []).flatMap((_, i, all) =>
        i % 2 === 0 ? [[all[i], all[i + 1]] as const] : [],
      ),
    );
    expect(fields).toMatchObject({
      specversion: '1.0',
      id: eventId,
      type: 'deployment:started',
      source: 'cli',
      subject: request.deploymentId,
      datacontenttype: 'application/json',
    });
    expect(Date.parse(fields.time ?? '')).not.toBeNaN();
    expect(JSON.parse(fields.data ?? '')).toEqual(request);
  });

  it('exits 124 when --wait times out with no worker running, and says nothing reads the stream', async () => {
    const env = cliEnv(redis);
    const started = Date.now();
    const request = deployment();
    const result = await CliProcess.run(
      ['publish', writeJsonFile(dir, 'ok.json', request), '--wait', '1s'],
      env,
    );
    expect(result.code).toBe(124);
    expect(result.stdout).toMatch(
      /timed out after .* waiting for validation: no consumer group reads deployment:started \(printery-validator\): nothing is running/,
    );
    expect(result.stdout).toContain(
      `pick it up again with: printery-workers follow ${String(request.deploymentId)}`,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  describe('with the service running', () => {
    let target: LoopbackSink;
    let env: ReturnType<typeof cliEnv>;
    let service: Awaited<ReturnType<typeof startService>>;

    beforeAll(async () => {
      target = await LoopbackSink.start();
      // Quick notification retries, so a failing webhook settles within the test.
      env = cliEnv(redis, { NOTIFY_BACKOFF_MS: '10ms', NOTIFY_MAX_ATTEMPTS: '3' });
      service = await startService(env);
    });

    afterAll(async () => {
      await stopService(service.proc).finally(() => service.proc.dispose());
      await target.close();
    });

    it('prints each stage and exits 0 when the deployment succeeds', async () => {
      const request = deployment({
        healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
        notify: [{ type: 'webhook', url: target.url('/hook') }],
      });
      const result = await CliProcess.run(
        ['publish', writeJsonFile(dir, 'ok.json', request), '--wait', '30s'],
        env,
        40_000,
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const stages = result.stdout
        .split('\n')
        .map((line) => /^\[\+[^\]]+\] (\S+)/.exec(line)?.[1])
        .filter(Boolean);
      expect(stages).toEqual(['validation', 'dependencies', 'health', 'notification']);
      expect(result.stdout).toMatch(/health\s+healthy after 1 attempt/);
      expect(result.stdout).toContain(`deployment ${String(request.deploymentId)} succeeded in`);
    });

    it('exits 1 and says where it failed when the health check fails', async () => {
      const request = deployment({
        healthCheck: { url: target.url('/down'), maxAttempts: 2, intervalMs: 50, timeoutMs: 1000 },
      });
      const result = await CliProcess.run(
        ['publish', writeJsonFile(dir, 'down.json', request), '--wait', '30s'],
        env,
        40_000,
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/health\s+unhealthy after 2 attempts/);
      expect(result.stdout).toContain('last status 503');
      expect(result.stdout).toMatch(
        new RegExp(`deployment ${String(request.deploymentId)} failed at health`),
      );
    });

    it('follow picks a deployment up again after --wait timed out, with the last delivery error', async () => {
      const request = deployment({
        healthCheck: {
          url: target.url('/down'),
          maxAttempts: 2,
          intervalMs: 1500,
          timeoutMs: 1000,
        },
        notify: [{ type: 'webhook', url: target.url('/down-hook') }],
      });
      const id = String(request.deploymentId);
      const first = await CliProcess.run(
        ['publish', writeJsonFile(dir, 'slow.json', request), '--wait', '300ms'],
        env,
      );
      expect(first.code).toBe(124);
      expect(first.stdout).not.toContain('no consumer');

      const [again, unknown] = await Promise.all([
        CliProcess.run(['follow', id, '--timeout', '30s'], env, 40_000),
        CliProcess.run(['follow', 'dep-never-published'], env),
      ]);
      expect(again.code).toBe(1);
      const stages = again.stdout
        .split('\n')
        .map((line) => /^\[\+[^\]]+\] (\S+)/.exec(line)?.[1])
        .filter(Boolean);
      expect(stages).toEqual(['validation', 'dependencies', 'health', 'notification']);
      expect(again.stdout).toContain(
        `webhook ${target.url('/down-hook')}: failed after 3 attempt(s), last error: status 503`,
      );
      expect(again.stdout).toContain(`deployment ${id} failed at health`);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no deployment:started entry for dep-never-published');
      const warned = service.proc.logs.find(
        (line) => line.event === 'notification.not_delivered' && line.deploymentId === id,
      );
      expect(warned).toMatchObject({ level: 'warn', undelivered: 1 });
    });

    it('prints a JSON summary with --json', async () => {
      const request = deployment({
        healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
      });
      const result = await CliProcess.run(
        ['publish', writeJsonFile(dir, 'ok.json', request), '--wait', '30s', '--json'],
        env,
        40_000,
      );
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout) as {
        deploymentId: string;
        outcome: string;
        stages: Array<{ stage: string }>;
      };
      expect(summary).toMatchObject({ deploymentId: request.deploymentId, outcome: 'succeeded' });
      expect(summary.stages.map((stage) => stage.stage)).toEqual([
        'validation',
        'dependencies',
        'health',
        'notification',
      ]);
    });
  });
});
