/**
 * `npm run demo`: the whole pipeline on one machine in under a minute.
 *
 * Starts the service in the zero-setup dev mode (a throwaway redis-server,
 * nothing kept), a loopback health target and webhook sink, seeds the
 * registry, publishes three deployments with `publish --wait` (one succeeds,
 * one is refused by validation, one fails its health check), and prints what
 * happened. Needs `npm run build` first (the npm script does it) and
 * `redis-server` on PATH.
 *
 * `npm run demo -- --keep` runs the pipeline on a redis-server of the demo's
 * own instead and leaves it running, with its URL printed, so the streams,
 * groups and registry can be looked at afterwards (`status`, `dlq list`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LoopbackSink } from '../dev/loopback-sink';
import { freePort, RedisServer } from '../dev/redis-server';
import { findOnPath } from '../src/redis/embedded-redis';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist', 'main.js');
const bold = (text: string): string => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);

interface Hook {
  deploymentId: string;
  outcome: string;
  failedStage: string | null;
}

/** The notifications the webhook sink received, as the demo prints them. */
function hooksOf(sink: LoopbackSink): Hook[] {
  const hooks: Hook[] = [];
  for (const request of sink.received('/hook')) {
    try {
      const payload = JSON.parse(request.body) as Partial<Hook> & { data?: Partial<Hook> };
      const data = payload.data ?? payload;
      hooks.push({
        deploymentId: String(data.deploymentId),
        outcome: String(data.outcome),
        failedStage: data.failedStage ?? null,
      });
    } catch {
      // Not JSON; the sink only counts what it understands.
    }
  }
  return hooks;
}

/** Runs a one-shot CLI command with the terminal as its output; resolves with the exit code. */
function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'],
    });
    child.stdin?.end(input);
    child.once('exit', (code) => done(code ?? 1));
  });
}

/** Starts `run`; resolves once the service listens, with the URL of the Redis it started (if it did). */
function startService(
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<{ child: ChildProcess; redisUrl: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, 'run', '--port', String(port)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let redisUrl = '';
    let pending = '';
    let stderr = '';
    const timer = setTimeout(
      () => fail(new Error(`service did not start within 60s\n${stderr}`)),
      60_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        let log: { event?: string; url?: string };
        try {
          log = JSON.parse(line) as typeof log;
        } catch {
          continue;
        }
        if (log.event === 'redis.embedded_started') {
          redisUrl = String(log.url);
        }
        if (log.event === 'service.listening') {
          clearTimeout(timer);
          done({ child, redisUrl });
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`service exited with ${code}\n${stderr}`));
    });
  });
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/health/ready`)).status === 200) {
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('service not ready within 30s');
}

async function main(): Promise<number> {
  if (!findOnPath('redis-server', process.env)) {
    process.stderr.write(
      'The demo needs redis-server on PATH (apt install redis-server, brew install redis).\n',
    );
    return 1;
  }
  const keep = process.argv.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'printery-demo-'));
  // A config folder whose default Redis URL answers nowhere: the service then
  // starts its throwaway Redis even if one runs on 6379, which stays untouched.
  writeFileSync(
    join(dir, 'default.yaml'),
    `redis:\n  url: redis://127.0.0.1:${await freePort()}\n`,
  );
  // With --keep, a Redis of the demo's own that outlives it.
  const kept = keep ? await RedisServer.start({ detached: true }) : undefined;
  // Health target (`/up` 200, `/down` 503) and webhook sink (`/hook`) on one loopback server.
  const targets = await LoopbackSink.start();
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PRINTERY_CONFIG_DIR: dir,
    ENVIRONMENT: 'development',
    HEALTHCHECK_ALLOWED_HOSTS: '127.0.0.1',
    NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
    ...(kept ? { REDIS_URL: kept.url } : {}),
  };
  let service: ChildProcess | undefined;
  try {
    process.stdout.write(bold('\n▶ Starting printery-workers in development mode\n'));
    const started = await startService(env, port);
    service = started.child;
    const redisUrl = kept?.url ?? started.redisUrl;
    // In the demo's words: the service's own warning speaks of "the default
    // URL", which here is an empty port the demo chose, not 6379.
    process.stdout.write(
      kept
        ? `  Redis: ${redisUrl}, a redis-server the demo started and will leave running (--keep)\n`
        : `  Redis: ${redisUrl}, a throwaway redis-server the service started itself (zero-setup dev start:\n  the demo points it at an empty port, so a Redis on 6379 is left alone); it stops with the service\n`,
    );
    await waitReady(`http://127.0.0.1:${port}`);
    process.stdout.write(`  /health/ready answers 200 on http://127.0.0.1:${port}\n`);
    const cliEnv = { ...env, REDIS_URL: redisUrl };

    process.stdout.write(
      bold('\n▶ Seeding the registry: auth-api 2.1.0 is deployed and healthy in staging\n'),
    );
    await cli(['registry', 'set', 'auth-api', '2.1.0', '--environment', 'staging'], cliEnv);

    const base = {
      version: '1.4.2',
      environment: 'staging',
      notify: [{ type: 'webhook', url: `${targets.base}/hook` }],
      requestedBy: 'demo',
    };
    const runs: Array<{ title: string; request: Record<string, unknown> }> = [
      {
        title: 'billing-api 1.4.2, needs auth-api ^2.0.0, healthy → should succeed',
        request: {
          ...base,
          deploymentId: 'demo-ok',
          service: 'billing-api',
          artifact: 'registry.example.com/billing-api:1.4.2',
          dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
          healthCheck: {
            url: `${targets.base}/up`,
            maxAttempts: 3,
            intervalMs: 200,
            timeoutMs: 1000,
          },
        },
      },
      {
        title: 'a request with bad fields → refused by validation, every problem listed',
        request: {
          ...base,
          deploymentId: 'demo-invalid',
          service: 'Billing API',
          version: 'latest',
          artifact: 'not an image',
          dependencies: [{ service: 'auth-api', version: 'two' }],
          healthCheck: { url: 'http://169.254.169.254/latest/meta-data' },
        },
      },
      {
        title: 'search-api 3.0.0 whose health endpoint answers 503 → should fail health',
        request: {
          ...base,
          deploymentId: 'demo-unhealthy',
          service: 'search-api',
          version: '3.0.0',
          artifact: 'registry.example.com/search-api:3.0.0',
          dependencies: [],
          healthCheck: {
            url: `${targets.base}/down`,
            maxAttempts: 3,
            intervalMs: 200,
            timeoutMs: 1000,
          },
        },
      },
    ];
    const outcomes: Array<{ title: string; code: number }> = [];
    for (const run of runs) {
      process.stdout.write(bold(`\n▶ printery-workers publish - --wait 30s   # ${run.title}\n`));
      const code = await cli(
        ['publish', '-', '--wait', '30s'],
        cliEnv,
        JSON.stringify(run.request),
      );
      outcomes.push({ title: run.title, code });
    }

    process.stdout.write(bold(`\n▶ printery-workers status --url http://127.0.0.1:${port}\n`));
    await cli(['status', '--url', `http://127.0.0.1:${port}`], cliEnv);

    process.stdout.write(bold('\n▶ What happened\n'));
    const meaning: Record<number, string> = {
      0: 'succeeded',
      1: 'failed in the pipeline',
      2: 'refused before publishing',
      124: 'timed out',
    };
    for (const outcome of outcomes) {
      process.stdout.write(
        `  exit ${outcome.code} (${meaning[outcome.code] ?? 'error'}): ${outcome.title}\n`,
      );
    }
    const hooks = hooksOf(targets);
    process.stdout.write(`  the webhook sink received ${hooks.length} notification(s):\n`);
    for (const hook of hooks) {
      process.stdout.write(
        `    ${hook.deploymentId}: ${hook.outcome}${hook.failedStage ? ` at ${hook.failedStage}` : ''}\n`,
      );
    }
    const expected = [0, 2, 1];
    return outcomes.every((outcome, i) => outcome.code === expected[i]) ? 0 : 1;
  } finally {
    if (service && service.exitCode === null) {
      process.stdout.write(
        bold(
          `\n▶ Stopping the service (SIGTERM)${kept ? '' : '; the throwaway Redis goes with it'}\n`,
        ),
      );
      const exited = new Promise((done) => service?.once('exit', done));
      service.kill('SIGTERM');
      await exited;
    }
    await targets.close();
    rmSync(dir, { recursive: true, force: true });
    if (kept) {
      const pid = kept.keep();
      process.stdout.write(
        bold(`\n▶ Redis kept at ${kept.url} (pid ${pid}); look at what the demo left with\n`) +
          `  REDIS_URL=${kept.url} node dist/main.js status\n` +
          `  REDIS_URL=${kept.url} node dist/main.js registry list\n` +
          `  and stop it with: kill ${pid}\n`,
      );
    }
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
