import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess } from '../helpers/cli-process';

/**
 * Real dependencies: the built CLI binary (dist/main.js) spawned as a process.
 * No Redis: configuration is rejected before anything connects.
 */
describe('printery-workers configuration', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-config-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('when a value is invalid', () => {
    it.each([
      [
        'log level',
        ['--log-level', 'loud'],
        {},
        /--log-level: "loud" is not valid; expected one of debug, info, warn, error/,
      ],
      [
        'environment',
        [],
        { ENVIRONMENT: 'qa' },
        /ENVIRONMENT: "qa" is not valid; expected one of development, staging, production/,
      ],
      [
        'negative count',
        ['--max-restarts', '-2'],
        {},
        /--max-restarts: "-2" is not valid; expected a whole number/,
      ],
      [
        'non-numeric count',
        [],
        { MAX_DELIVERIES: 'five' },
        /MAX_DELIVERIES: "five" is not valid; expected a whole number/,
      ],
      [
        'unparseable duration',
        ['--shutdown-timeout', '30 sec'],
        {},
        /--shutdown-timeout: "30 sec" is not valid; expected a duration/,
      ],
      [
        'malformed Redis URL',
        ['--redis-url', 'localhost:6379'],
        {},
        /--redis-url: "localhost:6379" is not valid; expected a URL like redis:\/\//,
      ],
      [
        'unknown worker',
        ['--worker', 'validator,printer'],
        {},
        /--worker: "validator,printer" is not valid; expected all, or a comma list of validator, dependency, health, notifier/,
      ],
    ])('run refuses a bad %s with exit 2 and names it', async (_what, flags, env, message) => {
      const result = await CliProcess.run(['run', ...flags], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('names every bad value, one line each', async () => {
      const result = await CliProcess.run(['run', '--port', 'http', '--backoff', 'soon'], {
        LOG_LEVEL: 'verbose',
        CLAIM_IDLE_MS: '-1',
      });
      expect(result.code).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(4);
      expect(result.stderr).toMatch(/--port: "http"/);
      expect(result.stderr).toMatch(/--backoff: "soon"/);
      expect(result.stderr).toMatch(/LOG_LEVEL: "verbose"/);
      expect(result.stderr).toMatch(/CLAIM_IDLE_MS: "-1"/);
    });

    it('names a mistyped command instead of running the default one', async () => {
      const top = await CliProcess.run(['stauts']);
      expect(top.code).toBe(2);
      expect(top.stderr).toMatch(/unknown command 'stauts'; expected one of run, config, status/);
      const sub = await CliProcess.run(['registry', 'lsit']);
      expect(sub.code).toBe(2);
      expect(sub.stderr).toMatch(
        /unknown command 'registry lsit'; expected one of list, show, set, remove/,
      );
    });

    it('exits 2 on an unknown flag', async () => {
      const result = await CliProcess.run(['run', '--wrokers', 'all']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/unknown option '--wrokers'/);
    });
  });

  describe('config', () => {
    it('applies flags over environment over config files over defaults', async () => {
      writeFileSync(
        join(dir, 'default.yaml'),
        [
          'port: 1111',
          'logLevel: warn',
          'supervisor:',
          '  maxRestartAttempts: 9',
          '  shutdownTimeoutMs: 45s',
        ].join('\n'),
      );
      const result = await CliProcess.run(['config', '--json', '--port', '3333'], {
        PRINTERY_CONFIG_DIR: dir,
        PORT: '2222',
        LOG_LEVEL: 'debug',
        MAX_RESTART_ATTEMPTS: '4',
      });
      expect(result.code).toBe(0);
      const { config, sources } = JSON.parse(result.stdout);
      expect(config.port).toBe(3333); // flag over env
      expect(config.logLevel).toBe('debug'); // env over file
      expect(config.supervisor.maxRestartAttempts).toBe(4); // env over file
      expect(config.supervisor.shutdownTimeoutMs).toBe(45_000); // file over default
      expect(config.supervisor.restartBackoffMs).toBe(1000); // default
      expect(sources).toMatchObject({
        port: { from: 'flag', name: '--port' },
        logLevel: { from: 'environment', name: 'LOG_LEVEL' },
        'supervisor.shutdownTimeoutMs': {
          from: 'file',
          name: expect.stringMatching(/default\.yaml$/),
        },
        'supervisor.restartBackoffMs': { from: 'default' },
      });
    });

    it('prints an invalid configuration with where each value came from, then its problems, exit 2', async () => {
      const result = await CliProcess.run(['config', '--port', '99999'], {
        PRINTERY_CONFIG_DIR: join(dir, 'missing'),
        ENVIRONMENT: 'staging',
        LOG_LEVEL: 'warn',
        REDIS_URL: 'redis:/admin:hunter2@db.internal',
        SUPERVISED_MODE: 'on',
      });
      expect(result.code).toBe(2);
      expect(result.stdout).toMatch(/^environment: staging # environment ENVIRONMENT$/m);
      expect(result.stdout).toMatch(/^logLevel: warn # environment LOG_LEVEL$/m);
      expect(result.stdout).toMatch(/^port: "99999" # flag --port \(INVALID\)$/m);
      expect(result.stdout).toMatch(/^ {2}maxRestartAttempts: 3 # default$/m);
      const problems = result.stderr.trim().split('\n');
      expect(problems).toEqual([
        expect.stringMatching(
          /PRINTERY_CONFIG_DIR: ".*missing" is not a folder; expected a folder/,
        ),
        expect.stringMatching(/--port: "99999" is not valid/),
        'printery-workers: REDIS_URL: "redis:/admin:[REDACTED]@db.internal" is not valid; expected a URL like redis://host:6379/0 (user and password allowed), or rediss://… for TLS',
        'printery-workers: SUPERVISED_MODE: "on" is not valid; expected one of true, false, yes, no, 1, 0',
        expect.stringMatching(/HEALTHCHECK_ALLOWED_HOSTS: empty in staging/),
        expect.stringMatching(/NOTIFY_ALLOWED_HOSTS: empty in staging/),
      ]);
      expect(result.stdout + result.stderr).not.toContain('hunter2');
    });

    it('prints the effective configuration without secrets', async () => {
      const result = await CliProcess.run(['config'], {
        REDIS_URL: 'redis://printery:redis-pass-123@redis.internal:6380/1',
        NOTIFY_WEBHOOK_SECRET: 'whsec-abcdef',
        NOTIFY_WEBHOOK_URLS: 'https://hooks.example/services/T000/B000/tok-xyz',
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('redis://printery:[REDACTED]@redis.internal:6380/1');
      expect(result.stdout).toContain('https://hooks.example/services/[REDACTED]');
      for (const secret of ['redis-pass-123', 'whsec-abcdef', 'tok-xyz']) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
    });

    it('exits 2 when the configuration is invalid', async () => {
      const result = await CliProcess.run(['config'], { PORT: '70000' });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /PORT: "70000" is not valid; expected a whole number from 0 to 65535/,
      );
    });
  });
});
