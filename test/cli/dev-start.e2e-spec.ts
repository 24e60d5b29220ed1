import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { CliProcess, eventually, httpGet, runInTerminal } from '../helpers/cli-process';
import { freePort } from '../../dev/redis-server';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Real dependencies: the built CLI spawned as a process and the machine's
 * redis-server binary. The "default URL" is made unreachable through a config
 * folder (PRINTERY_CONFIG_DIR) pointing at a free port, so the shared Redis on
 * 6379 is never touched.
 */
describe('printery-workers run: zero-setup dev start', () => {
  let dir: string;
  let proc: CliProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'printery-cli-devstart-'));
    writeFileSync(
      join(dir, 'default.yaml'),
      `redis:\n  url: redis://127.0.0.1:${await freePort()}\n  startupTimeoutMs: 1s\n`,
    );
  });

  afterEach(async () => {
    await proc?.dispose();
    proc = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('comes up on a throwaway Redis when nothing answers at the default URL, and stops it on SIGTERM', async () => {
    const port = await freePort();
    proc = new CliProcess(['run', '--port', String(port)], { PRINTERY_CONFIG_DIR: dir });
    const started = await proc.waitForEvent('redis.embedded_started', 20_000);
    expect(started.level).toBe('warn');
    expect(started.msg).toMatch(/NOT kept/);
    const url = String(started.url);
    const redisPort = Number(new URL(url).port);

    await proc.waitForEvent('service.listening', 30_000);
    await eventually(
      async () => (await httpGet(`http://127.0.0.1:${port}/health/ready`)).status === 200,
      30_000,
      200,
    );
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      expect(await client.ping()).toBe('PONG');
      const groups = (await client.xinfo(
        'GROUPS',
        'materi:events:deployment:deployment:started',
      )) as unknown[];
      expect(groups).toHaveLength(1);
    } finally {
      client.disconnect();
    }

    proc.signal('SIGTERM');
    expect(await proc.waitForExit(30_000)).toEqual({ code: 0, signal: null });
    expect(proc.logs.some((line) => line.event === 'redis.embedded_stopped')).toBe(true);
    expect(await portOpen(redisPort)).toBe(false);
  });

  it('stops the throwaway Redis and removes its folder when the service is killed with SIGKILL', async () => {
    proc = new CliProcess(['run', '--port', String(await freePort())], {
      PRINTERY_CONFIG_DIR: dir,
    });
    const started = await proc.waitForEvent('redis.embedded_started', 20_000);
    const redisPort = Number(new URL(String(started.url)).port);
    await proc.waitForEvent('service.listening', 30_000);
    const client = new Redis(String(started.url), { maxRetriesPerRequest: 1 });
    const [, folder] = (await client.config('GET', 'dir')) as [string, string];
    client.disconnect();
    expect(existsSync(folder)).toBe(true);

    // SIGKILL runs no exit handler: only the closed pipe tells the watchdog.
    proc.signal('SIGKILL');
    expect(await proc.waitForExit(10_000)).toEqual({ code: null, signal: 'SIGKILL' });
    await eventually(async () => !(await portOpen(redisPort)), 10_000, 100);
    await eventually(() => !existsSync(folder), 10_000, 100);
  });

  it('does not start one when REDIS_URL is given explicitly; in a terminal, one line per event', async () => {
    const { code, output } = await runInTerminal(['run', '--port', String(await freePort())], {
      PRINTERY_CONFIG_DIR: dir,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      STARTUP_TIMEOUT_MS: '500ms',
    });
    expect(code).toBe(1);
    const colours = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
    const lines = output.replace(colours, '').split(/\r?\n/).filter(Boolean);
    const logLines = lines.filter((line) => !line.startsWith('printery-workers: '));
    expect(logLines.length).toBeGreaterThanOrEqual(3);
    for (const line of logLines) {
      // `[10:04:17.025] WARN: redis not reachable yet {"event":"redis.connect_failed",…}`
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): .+ \{"/);
    }
    expect(output).toContain('"event":"redis.connect_failed"');
    expect(output).toMatch(
      /"event":"service.failed","error":"StartupError: Redis at .* is unreachable/,
    );
    expect(output).not.toContain('redis.embedded_started');
  });

  it('never starts one outside development', async () => {
    proc = new CliProcess(['run', '--port', String(await freePort())], {
      PRINTERY_CONFIG_DIR: dir,
      ENVIRONMENT: 'staging',
      HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
      NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      STARTUP_TIMEOUT_MS: '500ms',
    });
    const exit = await proc.waitForExit(30_000);
    expect(exit.code).toBe(1);
    expect(proc.stderr).toContain('unreachable');
    expect(proc.logs.some((line) => line.event === 'redis.embedded_started')).toBe(false);
  });
});
