import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { loadConfig } from './load-config';

describe('loadConfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'printery-config-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const problemsOf = (fn: () => unknown): string[] => {
    try {
      fn();
    } catch (error) {
      if (error instanceof ConfigError) {
        return [...error.problems];
      }
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('uses the built-in defaults when nothing is given', () => {
    const config = loadConfig({ env: {}, configDir: dir });
    expect(config.redis.url).toBe('redis://localhost:6379');
    expect(config.supervisor.workers).toEqual(['validator', 'dependency', 'health', 'notifier']);
    expect(config.supervisor.shutdownTimeoutMs).toBe(30_000);
    expect(config.workers.dependency.dependsOn).toEqual(['validator']);
    expect(config.streams.prefix).toBe('materi:events:deployment');
  });

  it('lets flags override the environment, which overrides the files', () => {
    writeFileSync(
      join(dir, 'default.yaml'),
      'port: 1111\nlogLevel: warn\nsupervisor:\n  maxRestartAttempts: 7\n',
    );
    const config = loadConfig({
      env: { PORT: '2222', LOG_LEVEL: 'error' },
      flags: { port: '3333' },
      configDir: dir,
    });
    expect(config.port).toBe(3333);
    expect(config.logLevel).toBe('error');
    expect(config.supervisor.maxRestartAttempts).toBe(7);
  });

  it('reads the overlay file of the chosen environment over default.yaml', () => {
    writeFileSync(join(dir, 'default.yaml'), 'port: 1111\n');
    writeFileSync(join(dir, 'staging.yaml'), 'port: 4444\n');
    const config = loadConfig({
      env: {
        ENVIRONMENT: 'staging',
        HEALTHCHECK_ALLOWED_HOSTS: 'a.example',
        NOTIFY_ALLOWED_HOSTS: 'b.example',
      },
      configDir: dir,
    });
    expect(config.port).toBe(4444);
  });

  it('accepts durations with units from every source', () => {
    writeFileSync(join(dir, 'default.yaml'), 'supervisor:\n  healthCheckIntervalMs: 2m\n');
    const config = loadConfig({
      env: { SHUTDOWN_TIMEOUT_MS: '500ms' },
      flags: { backoff: '2s' },
      configDir: dir,
    });
    expect(config.supervisor.healthCheckIntervalMs).toBe(120_000);
    expect(config.supervisor.shutdownTimeoutMs).toBe(500);
    expect(config.supervisor.restartBackoffMs).toBe(2000);
  });

  it('reports every bad value at once, naming its source and what is accepted', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { LOG_LEVEL: 'loud', MAX_DELIVERIES: 'many', WORKER_MODE: 'validator,printer' },
        flags: { port: '-1' },
        configDir: dir,
      }),
    );
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(
      /LOG_LEVEL: "loud" is not valid; expected one of debug, info, warn, error/,
    );
    expect(problems.join('\n')).toMatch(/MAX_DELIVERIES: "many"/);
    expect(problems.join('\n')).toMatch(/WORKER_MODE: "validator,printer"/);
    expect(problems.join('\n')).toMatch(/--port: "-1"/);
  });

  it('never echoes a secret in a problem line', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { REDIS_URL: 'http://user:hunter22@redis.internal:6379' },
        configDir: dir,
      }),
    );
    expect(problems.join('\n')).toContain('REDIS_URL');
    expect(problems.join('\n')).not.toContain('hunter22');
  });

  it('rejects unknown keys and invalid YAML in config files', () => {
    writeFileSync(join(dir, 'default.yaml'), 'supervisor:\n  maxRestartAttemps: 3\n');
    expect(problemsOf(() => loadConfig({ env: {}, configDir: dir }))).toEqual([
      expect.stringMatching(/unknown setting "supervisor.maxRestartAttemps"/),
    ]);
    writeFileSync(join(dir, 'default.yaml'), 'port: [1\n');
    expect(problemsOf(() => loadConfig({ env: {}, configDir: dir }))[0]).toMatch(/not valid YAML/);
  });

  it('refuses a worker dependency cycle', () => {
    writeFileSync(join(dir, 'default.yaml'), 'workers:\n  validator:\n    dependsOn: [notifier]\n');
    expect(problemsOf(() => loadConfig({ env: {}, configDir: dir }))[0]).toMatch(
      /dependency cycle validator -> notifier -> validator/,
    );
  });

  it('refuses a hang bound no longer than one blocking read', () => {
    expect(
      problemsOf(() =>
        loadConfig({ env: { HANG_THRESHOLD_MS: '2s', STREAM_BLOCK_MS: '5s' }, configDir: dir }),
      ),
    ).toEqual([
      expect.stringMatching(/^HANG_THRESHOLD_MS: 2000 is not above STREAM_BLOCK_MS \(5000\)/),
    ]);
  });

  it('requires allow-lists outside development', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { ENVIRONMENT: 'production' }, configDir: dir }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^HEALTHCHECK_ALLOWED_HOSTS: empty in production/),
      expect.stringMatching(/^NOTIFY_ALLOWED_HOSTS: empty in production/),
    ]);
  });

  it('refuses a default webhook whose host NOTIFY_ALLOWED_HOSTS does not allow, naming only the host', () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          NOTIFY_ALLOWED_HOSTS: '*.example.com,10.0.0.0/8',
          NOTIFY_WEBHOOK_URLS: [
            'https://hooks.example.com/ok',
            'http://10.1.2.3:8080/ok',
            'https://ci:pa55word@hooks.other.org/services/T0/B0/s3cret',
            'http://169.254.169.254/latest',
          ].join(','),
        },
        configDir: dir,
      }),
    );
    expect(problems).toEqual([
      'NOTIFY_WEBHOOK_URLS: host "hooks.other.org" is not in NOTIFY_ALLOWED_HOSTS; expected every default webhook\'s host to be allowed there (exact, *.suffix, IP or CIDR)',
      'NOTIFY_WEBHOOK_URLS: host "169.254.169.254" is refused (host 169.254.169.254 is a cloud metadata address); expected a host NOTIFY_ALLOWED_HOSTS permits',
    ]);
    expect(problems.join('\n')).not.toMatch(/s3cret|pa55word|services/);
  });

  it('accepts default webhooks on allowed hosts, and any with no allow-list in development', () => {
    const env = { NOTIFY_WEBHOOK_URLS: 'https://hooks.example.com/x,https://hooks.other.org/y' };
    expect(() => loadConfig({ env, configDir: dir })).not.toThrow();
    expect(() =>
      loadConfig({
        env: { ...env, NOTIFY_ALLOWED_HOSTS: 'hooks.example.com,hooks.other.org' },
        configDir: dir,
      }),
    ).not.toThrow();
  });
});
