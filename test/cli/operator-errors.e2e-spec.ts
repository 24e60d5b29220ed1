import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { cliEnv, deployment, writeJsonFile } from './cli-fixtures';

/**
 * Real dependencies: the built CLI spawned as a process, a redis-server on a
 * free loopback port, and a second one that requires a password.
 */
describe('printery-workers, when something is wrong', () => {
  let redis: RedisServer;
  let locked: RedisServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-errors-'));
    [redis, locked] = await Promise.all([
      RedisServer.start(),
      RedisServer.start({ password: 'locked-pass-123' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([redis.dispose(), locked.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('outside development without allow-lists', () => {
    const staging = (): NodeJS.ProcessEnv => ({
      ...cliEnv(redis),
      ENVIRONMENT: 'staging',
      HEALTHCHECK_ALLOWED_HOSTS: '',
      NOTIFY_ALLOWED_HOSTS: '',
    });

    it('still runs the commands that do not use them', async () => {
      const env = staging();
      const results = await Promise.all(
        [
          ['status', '--json'],
          ['dlq', 'list'],
          ['registry', 'list'],
        ].map((args) => CliProcess.run(args, env)),
      );
      for (const result of results) {
        expect(result.stderr).not.toContain('ALLOWED_HOSTS');
        expect(result.stdout).not.toBe('');
      }
      // status: exit 1 for a fresh Redis, where no consumer group exists yet.
      expect(results.map((result) => result.code)).toEqual([1, 0, 0]);
    });

    it('refuses publish, which validates with them as the Validator would', async () => {
      const result = await CliProcess.run(['publish', '--dry-run', '-'], staging());
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('HEALTHCHECK_ALLOWED_HOSTS: empty in staging');
    });
  });

  it('names the allow-list a refused host needs, which ones publish checked, and a stream dlq does not know', async () => {
    const env = cliEnv(redis, { HEALTHCHECK_ALLOWED_HOSTS: '', NOTIFY_ALLOWED_HOSTS: '' });
    const file = writeJsonFile(dir, 'loopback.json', deployment());
    const [published, listed] = await Promise.all([
      CliProcess.run(['publish', '--dry-run', file], env),
      CliProcess.run(['dlq', 'list', '--stream', 'bogus'], env),
    ]);
    expect(published.code).toBe(2);
    expect(published.stderr).toContain(
      '$.healthCheck.url: host 127.0.0.1 is not a public address (with HEALTHCHECK_ALLOWED_HOSTS empty only public addresses are allowed; list the host there to allow it)',
    );
    expect(published.stderr).toContain(
      "(checked in ENVIRONMENT development with this shell's HEALTHCHECK_ALLOWED_HOSTS (empty: any public host) and NOTIFY_ALLOWED_HOSTS (empty: any public host); the running service checks again with its own)",
    );
    expect(listed.code).toBe(2);
    expect(listed.stderr).toContain(
      '--stream: "bogus" is not a stream this service uses; expected one of deployment:started, validation:completed',
    );
  });

  describe('when Redis refuses the credentials', () => {
    it('run says so at once, exit 1, instead of retrying for STARTUP_TIMEOUT_MS', async () => {
      const started = Date.now();
      const result = await CliProcess.run(['run', '--port', '0'], {
        ...cliEnv(locked),
        REDIS_URL: `redis://127.0.0.1:${locked.port}`,
        STARTUP_TIMEOUT_MS: '30s',
      });
      expect(result.code).toBe(1);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result.stderr).toContain(
        `Redis at redis://127.0.0.1:${locked.port} requires a password and REDIS_URL gives none`,
      );
      expect(result.stderr).not.toContain('unreachable');
    });

    it('status names a wrong password as such, never printing it', async () => {
      const result = await CliProcess.run(['status'], {
        ...cliEnv(locked),
        REDIS_URL: `redis://:not-the-pass-456@127.0.0.1:${locked.port}`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('refused the user name or password in REDIS_URL (WRONGPASS');
      expect(result.stderr + result.stdout).not.toContain('not-the-pass-456');
    });
  });

  describe('when REDIS_URL names a db the server does not have', () => {
    it.each([
      ['status', ['status']],
      ['run', ['run', '--port', '0']],
    ])('%s exits 1 naming the db instead of using db 0', async (_name, args) => {
      const result = await CliProcess.run(args, {
        ...cliEnv(redis),
        REDIS_URL: `${redis.url}/99`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Redis at ${redis.url}/99 has no database 99`);
    });
  });
});
