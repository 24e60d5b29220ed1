import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { LoopbackSink } from '../../dev/loopback-sink';
import { cliEnv, deployment, startService, stopService, writeJsonFile } from './cli-fixtures';

/**
 * Real dependencies: the built CLI (dist/main.js) spawned as a process, a
 * redis-server on a free loopback port, and, for the Dependency Checker, the
 * running service with all four workers and a loopback health target.
 */
describe('printery-workers registry', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.dispose();
  });

  it('round-trips an entry through set, list and remove', async () => {
    const env = cliEnv(redis);
    const set = await CliProcess.run(
      [
        'registry',
        'set',
        'auth-api',
        '2.1.0',
        '--environment',
        'staging',
        '--depends-on',
        'db@^1.0.0,cache',
      ],
      env,
    );
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('added auth-api@2.1.0 in staging (healthy)');

    const listed = await CliProcess.run(['registry', 'list', '--environment', 'staging'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({
        environment: 'staging',
        service: 'auth-api',
        version: '2.1.0',
        healthy: true,
        dependencies: [
          { service: 'db', version: '^1.0.0' },
          { service: 'cache', version: '*' },
        ],
      }),
    ]);
    const [all, shown] = await Promise.all([
      CliProcess.run(['registry', 'list'], env),
      CliProcess.run(['registry', 'show', 'auth-api'], env),
    ]);
    expect(JSON.parse(all.stdout)).toHaveLength(1);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual([
      expect.objectContaining({ environment: 'staging', service: 'auth-api', version: '2.1.0' }),
    ]);

    const removed = await CliProcess.run(
      ['registry', 'remove', 'auth-api', '--environment', 'staging'],
      env,
    );
    expect(removed.code).toBe(0);
    const after = await CliProcess.run(['registry', 'list', '--environment', 'staging'], env);
    expect(JSON.parse(after.stdout)).toEqual([]);

    const again = await CliProcess.run(
      ['registry', 'remove', 'auth-api', '--environment', 'staging'],
      env,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('auth-api is not in the staging registry');
    const gone = await CliProcess.run(['registry', 'show', 'auth-api'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('auth-api is not in the registry of any environment');
  });

  it('stores the canonical version when given a v-prefixed one', async () => {
    const env = cliEnv(redis);
    const set = await CliProcess.run(
      ['registry', 'set', 'auth-api', 'v2.1.0', '--environment', 'staging'],
      env,
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('added auth-api@2.1.0 in staging (healthy)');
    const listed = await CliProcess.run(['registry', 'list', '--environment', 'staging'], env);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ service: 'auth-api', version: '2.1.0' }),
    ]);
  });

  it('refuses bad arguments with every problem listed and exit 2', async () => {
    const env = cliEnv(redis);
    const result = await CliProcess.run(
      ['registry', 'set', 'Billing_API', '1.x', '--environment', 'moon', '--depends-on', 'db@>>1'],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('SERVICE: "Billing_API" is not valid');
    expect(result.stderr).toContain('VERSION: "1.x" is not valid');
    expect(result.stderr).toContain('--environment: "moon" is not valid');
    expect(result.stderr).toContain('">>1" is not a valid semver range');

    const missing = await CliProcess.run(['registry', 'set', 'auth-api', '1.0.0'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--environment: required');
  });

  describe('with the service running', () => {
    let dir: string;
    let target: LoopbackSink;
    let service: Awaited<ReturnType<typeof startService>> | undefined;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'printery-cli-registry-'));
      target = await LoopbackSink.start();
    });

    afterEach(async () => {
      if (service) {
        await stopService(service.proc).finally(() => service?.proc.dispose());
        service = undefined;
      }
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('lets the Dependency Checker see what `registry set` wrote', async () => {
      const env = cliEnv(redis);
      service = await startService(env);
      const request = deployment({
        dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
        healthCheck: { url: target.url('/up'), maxAttempts: 1, intervalMs: 0, timeoutMs: 1000 },
      });
      const file = writeJsonFile(dir, 'deploy.json', request);

      const unseeded = await CliProcess.run(['publish', file, '--wait', '30s'], env, 40_000);
      expect(unseeded.code).toBe(1);
      expect(unseeded.stdout).toMatch(/dependencies\s+not satisfied/);
      expect(unseeded.stdout).toContain('auth-api ^2.0.0: missing');

      await CliProcess.run(
        ['registry', 'set', 'auth-api', '2.3.0', '--environment', 'staging', '--unhealthy'],
        env,
      );
      const unhealthy = await CliProcess.run(['publish', file, '--wait', '30s'], env, 40_000);
      expect(unhealthy.code).toBe(1);
      expect(unhealthy.stdout).toContain('auth-api ^2.0.0: unhealthy');

      await CliProcess.run(
        ['registry', 'set', 'auth-api', '2.3.0', '--environment', 'staging'],
        env,
      );
      const satisfied = await CliProcess.run(['publish', file, '--wait', '30s'], env, 40_000);
      expect(satisfied.stdout).toMatch(/dependencies\s+satisfied \(1 dependency checked\)/);
      expect(satisfied.code).toBe(0);
    });
  });
});
