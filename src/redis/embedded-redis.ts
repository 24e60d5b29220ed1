import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig, FlagValues } from '../config';
import { redisTopologyKind } from '../config/redis-topology';
import { redactText } from '../logging/redact';
import { spawnWatchedRedis } from './redis-watchdog';

/** A throwaway redis-server owned by this process (development only). */
export interface EmbeddedRedis {
  url: string;
  port: number;
  /** The watchdog's pid (redis-watchdog.ts): a SIGTERM to it stops the server. */
  pid: number;
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 500;
const READY_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 5000;

/**
 * The zero-setup dev start (SPEC §2): in `development`, when the operator did
 * not choose a Redis (no --redis-url, no REDIS_URL; the config files' URL
 * counts as the default), nothing answers at that URL and `redis-server` is
 * on PATH, starts one on a free loopback port with no persistence.
 *
 * Returns undefined whenever any condition does not hold, so staging and
 * production always go through the normal startup (retry, then exit 1).
 * A failed attempt is logged and also returns undefined.
 */
export async function maybeStartEmbeddedRedis(
  config: AppConfig,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<EmbeddedRedis | undefined> {
  if (
    config.environment !== 'development' ||
    redisUrlChosen(flags, env) ||
    redisTopologyKind(config.redis) !== 'standalone'
  ) {
    return undefined;
  }
  if (await somethingAnswers(config.redis.url)) {
    return undefined;
  }
  const binary = findOnPath('redis-server', env);
  if (!binary) {
    logger.info(
      { event: 'redis.embedded_unavailable', url: redactText(config.redis.url) },
      'no Redis at the default URL and no redis-server on PATH to start one',
    );
    return undefined;
  }
  try {
    const embedded = await startEmbeddedRedis(binary);
    logger.warn(
      {
        event: 'redis.embedded_started',
        url: embedded.url,
        redisPid: embedded.pid,
        defaultUrl: redactText(config.redis.url),
        persistent: false,
      },
      'NO REDIS AT THE DEFAULT URL: started a throwaway redis-server for development; its data is NOT kept and it stops with this process',
    );
    return embedded;
  } catch (error) {
    logger.warn(
      { event: 'redis.embedded_failed', err: error },
      'could not start a throwaway redis-server; using the configured URL',
    );
    return undefined;
  }
}

/** The operator chose a Redis explicitly (flag or environment), so none is started for them. */
export function redisUrlChosen(flags: FlagValues, env: NodeJS.ProcessEnv): boolean {
  return flags['redis-url'] !== undefined || (env.REDIS_URL !== undefined && env.REDIS_URL !== '');
}

/** True when a TCP connection to the URL's host and port succeeds quickly. */
export function somethingAnswers(rawUrl: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 6379),
    });
    const done = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function findOnPath(binary: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

/** A free TCP port on loopback, chosen by the kernel. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object'
          ? resolve(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}

/**
 * redis-server arguments for a private, throwaway server: loopback only, in
 * the foreground, nothing persisted, quiet. The dev Redis and the test and
 * bench servers (dev/redis-server.ts) start from these.
 */
export function throwawayRedisArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/** Starts redis-server on a free loopback port with no persistence, in a temp folder. */
export async function startEmbeddedRedis(binary: string): Promise<EmbeddedRedis> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'printery-dev-redis-'));
  const child: ChildProcess = spawnWatchedRedis(binary, dir, throwawayRedisArgs(port, dir));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
    } else {
      child.once('exit', () => resolve());
    }
  });
  const cleanupDir = (): void => rmSync(dir, { recursive: true, force: true });
  // For exits that skip `stop()` (a second SIGINT, process.exit); after a
  // SIGKILL the closed pipe tells the watchdog instead.
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          exited,
          new Promise<void>((resolve) => {
            // The watchdog escalates to SIGKILL itself after 3 s; this is for a hung watchdog.
            timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, STOP_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      cleanupDir();
    })();
    return stopping;
  };

  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', reject);
    void exited.then(() =>
      reject(new Error(`redis-server exited at start (code ${child.exitCode})`)),
    );
  });
  spawnError.catch(() => undefined);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      const up = await Promise.race([somethingAnswers(url, 200), spawnError]);
      if (up) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`redis-server did not listen on port ${port} within ${READY_TIMEOUT_MS}ms`);
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), spawnError]);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, pid: child.pid ?? 0, stop };
}
