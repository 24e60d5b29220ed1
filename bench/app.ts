/**
 * `npm run bench:app`: the real application as users run it — the built
 * service (dist/main.js) as its own process, all four workers, on a private
 * redis-server, with a loopback health target that answers at once and a
 * loopback webhook sink, the registry seeded — measured from outside.
 *
 * Each round starts a fresh service and measures: start → ready, RSS 2 s
 * after ready (after the workers' warm-up), idle RSS and CPU, one
 * deployment at a time (XADD → its notification:sent), a burst
 * (deployments/s, Node CPU per deployment from /proc, Redis commands per
 * deployment from INFO, peak RSS, when each stage finished), RSS once idle
 * again after it, and idle SIGTERM → exit. Figures are machine-dependent;
 * every round is printed.
 *
 * Idle RSS is read after BENCH_APP_IDLE_SECONDS of idling, not at once: V8
 * keeps the young generation that start-up (or a burst) grew, about 30 MB,
 * until its memory reducer runs, 8 s or more after the last full GC (seen
 * 6–18 s after the process started, later on a slow machine; a 15 s window
 * once missed it); read earlier, the figure is the start-up's, not an idle
 * service's. The RSS 2 s after ready is printed too. The one-at-a-time
 * deployments start after the idle window, so the first of them has the
 * warm-up behind it; one that arrives within a second of the start does not
 * (about 130–260 ms).
 *
 * BENCH_APP_ROUNDS (default 2), BENCH_APP_SEQUENTIAL (default 200),
 * BENCH_APP_BURST (default 5000), BENCH_APP_IDLE_SECONDS (default 30),
 * BENCH_APP_NODE_ARGS (default none): Node flags for the service under
 * test, space-separated, e.g. `--max-semi-space-size=4`, to measure a V8
 * setting against the default. BENCH_APP_SERVICE_ENV (default none): the
 * service's own settings, space-separated NAME=value pairs, e.g.
 * `VALIDATOR_CONCURRENCY=20 HEALTH_CONCURRENCY=20`; without it the service
 * runs on its defaults, as users start it.
 *
 * BENCH_APP_TRACING (default `off`) is a comma list of tracing modes, each
 * run BENCH_APP_ROUNDS times, the modes taking turns round by round: `off`
 * (no OTLP endpoint), `on` (exporting to a loopback OTLP receiver of this
 * bench) and `down` (an endpoint where nothing listens). With more than one
 * mode the table shows each mode's median.
 *
 * BENCH_APP_PROFILE=1 (`npm run bench:profile`) runs the service under
 * `node --cpu-prof` (one round unless BENCH_APP_ROUNDS says otherwise) and
 * prints the top self-time functions and files of the burst alone, read
 * from the .cpuprofile, whose path it prints for DevTools; the profiler
 * costs some speed, so that round's figures are not comparable with a
 * plain run. BENCH_APP_PROFILE_TOP (default 25) sets how many rows.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Table from 'cli-table3';
import type Redis from 'ioredis';
import { LoopbackSink } from '../dev/loopback-sink';
import { OtlpReceiver } from '../dev/otlp-receiver';
import { RedisServer, freePort } from '../dev/redis-server';
import { parseInfo } from '../src/streams/redis-checks';
import { EVENT_TYPES } from '../src/streams/topology';
import { WARM_UP_DELAY_MS } from '../src/workers/stream-worker';
import { SEEDED_DEPENDENCY, deploymentFields, spawnService, untilReady } from './service-process';
import { formatSummary, monotonicMicros, summarizeProfile } from './cpu-profile';

const PROFILE = process.env.BENCH_APP_PROFILE === '1';
const PROFILE_TOP = Number(process.env.BENCH_APP_PROFILE_TOP ?? 25);
const ROUNDS = Math.max(1, Number(process.env.BENCH_APP_ROUNDS ?? (PROFILE ? 1 : 2)));
const SEQUENTIAL = Number(process.env.BENCH_APP_SEQUENTIAL ?? 200);
const BURST = Number(process.env.BENCH_APP_BURST ?? 5000);
const IDLE_SECONDS = Number(process.env.BENCH_APP_IDLE_SECONDS ?? 30);
const SERVICE_NODE_ARGS = (process.env.BENCH_APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
const SERVICE_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  (process.env.BENCH_APP_SERVICE_ENV ?? '')
    .split(' ')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) {
        throw new Error(`BENCH_APP_SERVICE_ENV: "${pair}" is not NAME=value`);
      }
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
);
const TRACING_MODES = ['off', 'on', 'down'] as const;
type TracingMode = (typeof TRACING_MODES)[number];
const MODES = (process.env.BENCH_APP_TRACING ?? 'off')
  .split(',')
  .map((mode) => mode.trim())
  .filter((mode): mode is TracingMode => (TRACING_MODES as readonly string[]).includes(mode));
const PREFIX = 'bench:app';
/** When after ready the RSS is read and the idle window begins: after the workers' warm-up (they start before ready), which is not idling. */
const READY_RSS_AFTER_MS = WARM_UP_DELAY_MS + 1000;
const STAGES = [
  EVENT_TYPES.validationCompleted,
  EVENT_TYPES.dependencyChecked,
  EVENT_TYPES.healthChecked,
  EVENT_TYPES.notificationSent,
] as const;
/** Linux reports CPU time in clock ticks; 100 per second on every common kernel config. */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

const stream = (type: string): string => `${PREFIX}:${type}`;
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** utime + stime of a process in ms, and its RSS in bytes, from /proc. */
function procStats(pid: number): { cpuMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssBytes: rssPages * PAGE_BYTES };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(parseInfo(await redis.info('stats')).get('total_commands_processed'));
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Waits for the next notification:sent entry after `lastId`; returns its id. */
async function nextNotification(reader: Redis, lastId: string): Promise<string> {
  const reply = await reader.xread(
    'COUNT',
    1,
    'BLOCK',
    10_000,
    'STREAMS',
    stream(EVENT_TYPES.notificationSent),
    lastId,
  );
  const id = reply?.[0]?.[1][0]?.[0];
  if (!id) {
    throw new Error('no notification within 10 s');
  }
  return id;
}

interface RoundFigures {
  startToReadyMs: number;
  readyRssMb: number;
  idleRssMb: number;
  idleCpuPercent: number;
  /** The first deployment after the start: the cold path (modules, compiled code, connections). */
  first: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  burstPerSecond: number;
  cpuMsPerDeployment: number;
  commandsPerDeployment: number;
  peakRssMb: number;
  stageFinishS: number[];
  afterBurstRssMb: number;
  sigtermToExitMs: number;
  /** With BENCH_APP_PROFILE: the burst's self-time summary. */
  profile?: string;
}

async function round(
  redis: RedisServer,
  admin: Redis,
  reader: Redis,
  sink: LoopbackSink,
  tracing: NodeJS.ProcessEnv,
): Promise<RoundFigures> {
  await admin.flushall();
  await admin.hset(`${PREFIX}:registry:staging`, SEEDED_DEPENDENCY.field, SEEDED_DEPENDENCY.value);
  const port = await freePort();
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'bench-app-profile-')) : undefined;
  const nodeArgs = [
    ...SERVICE_NODE_ARGS,
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  ];
  const spawnedAt = performance.now();
  const service = spawnService(
    redis.url,
    port,
    sink,
    PREFIX,
    { ...SERVICE_ENV, ...tracing },
    nodeArgs,
  );
  const pid = service.child.pid as number;
  await untilReady(service, 30_000);
  const startToReadyMs = performance.now() - spawnedAt;

  await sleep(READY_RSS_AFTER_MS);
  const idleFrom = procStats(pid);
  await sleep(IDLE_SECONDS * 1000);
  const idleTo = procStats(pid);
  const idleCpuPercent = ((idleTo.cpuMs - idleFrom.cpuMs) / (IDLE_SECONDS * 1000)) * 100;

  const latencies: number[] = [];
  // Redis was flushed: every notification from here on is after 0-0.
  let lastId = '0-0';
  for (let i = 0; i < SEQUENTIAL; i += 1) {
    const fields = deploymentFields(sink, i);
    const sentAt = performance.now();
    await admin.xadd(stream(EVENT_TYPES.deploymentStarted), '*', ...fields);
    lastId = await nextNotification(reader, lastId);
    latencies.push(performance.now() - sentAt);
  }
  const first = latencies[0] ?? Number.NaN;
  latencies.sort((a, b) => a - b);

  // The burst: every deployment added at once (one pipeline), then timed until all are notified.
  const lengthsBefore = await Promise.all(STAGES.map((stage) => admin.xlen(stream(stage))));
  const commandsBefore = await commandsProcessed(admin);
  const cpuBefore = procStats(pid).cpuMs;
  let peakRss = procStats(pid).rssBytes;
  const pipeline = admin.pipeline();
  for (let i = 0; i < BURST; i += 1) {
    pipeline.xadd(
      stream(EVENT_TYPES.deploymentStarted),
      '*',
      ...deploymentFields(sink, SEQUENTIAL + i),
    );
  }
  const burstFrom = performance.now();
  const burstFromMicros = monotonicMicros();
  await pipeline.exec();
  const finished: Array<number | undefined> = STAGES.map(() => undefined);
  const deadline = burstFrom + 300_000;
  while (finished.some((at) => at === undefined) && performance.now() < deadline) {
    await sleep(50);
    peakRss = Math.max(peakRss, procStats(pid).rssBytes);
    const lengths = await Promise.all(STAGES.map((stage) => admin.xlen(stream(stage))));
    lengths.forEach((length, i) => {
      if (finished[i] === undefined && length - (lengthsBefore[i] ?? 0) >= BURST) {
        finished[i] = (performance.now() - burstFrom) / 1000;
      }
    });
  }
  const burstS = finished[finished.length - 1];
  if (burstS === undefined) {
    throw new Error('burst did not finish within 300 s');
  }
  const burstToMicros = monotonicMicros();
  const cpuMs = procStats(pid).cpuMs - cpuBefore;
  const commands = (await commandsProcessed(admin)) - commandsBefore;

  await sleep(IDLE_SECONDS * 1000);
  const afterBurst = procStats(pid);
  const signalledAt = performance.now();
  service.child.kill('SIGTERM');
  const code = await service.exited;
  const sigtermToExitMs = performance.now() - signalledAt;
  if (code !== 0) {
    throw new Error(`service exited with ${code} after SIGTERM`);
  }
  let profile: string | undefined;
  if (profileDir) {
    // Node writes the profile as the process exits, named after its pid.
    const file = readdirSync(profileDir).find((name) => name.includes(`.${pid}.`));
    if (!file) {
      throw new Error(`no .cpuprofile for pid ${pid} in ${profileDir}`);
    }
    const path = join(profileDir, file);
    const summary = summarizeProfile(path, resolve(__dirname, '..'), PROFILE_TOP, {
      fromMicros: burstFromMicros,
      toMicros: burstToMicros,
    });
    profile = `profile of the burst (${path}):\n${formatSummary(summary)}`;
  }
  return {
    startToReadyMs,
    readyRssMb: idleFrom.rssBytes / 2 ** 20,
    idleRssMb: idleTo.rssBytes / 2 ** 20,
    idleCpuPercent,
    first,
    p50: quantile(latencies, 0.5),
    p90: quantile(latencies, 0.9),
    p99: quantile(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    burstPerSecond: BURST / burstS,
    cpuMsPerDeployment: cpuMs / BURST,
    // Includes this bench's own XADDs (one per deployment) and its XLEN polling.
    commandsPerDeployment: commands / BURST,
    peakRssMb: peakRss / 2 ** 20,
    stageFinishS: finished.map((at) => at ?? Number.NaN),
    afterBurstRssMb: afterBurst.rssBytes / 2 ** 20,
    sigtermToExitMs,
    profile,
  };
}

const ROWS: Array<[string, (r: RoundFigures) => number, number, string]> = [
  ['start → ready (ms)', (r) => r.startToReadyMs, 0, '<= 1000'],
  [`RSS ${READY_RSS_AFTER_MS / 1000} s after ready (MB)`, (r) => r.readyRssMb, 0, ''],
  [`idle RSS, ${IDLE_SECONDS} s later (MB)`, (r) => r.idleRssMb, 0, '<= 100'],
  ['idle CPU (%)', (r) => r.idleCpuPercent, 2, ''],
  ['one at a time: first (ms)', (r) => r.first, 1, ''],
  ['one at a time: p50 (ms)', (r) => r.p50, 1, '<= 5'],
  ['one at a time: p90 (ms)', (r) => r.p90, 1, ''],
  ['one at a time: p99 (ms)', (r) => r.p99, 1, '<= 15'],
  ['one at a time: max (ms)', (r) => r.max, 1, ''],
  ['burst: deployments/s', (r) => r.burstPerSecond, 0, '>= 600'],
  ['burst: Node CPU per deployment (ms)', (r) => r.cpuMsPerDeployment, 2, '<= 1.5'],
  ['burst: Redis commands per deployment', (r) => r.commandsPerDeployment, 1, ''],
  ['burst: peak RSS (MB)', (r) => r.peakRssMb, 0, ''],
  ...STAGES.map((stage, i): [string, (r: RoundFigures) => number, number, string] => [
    `burst: ${stage} done at (s)`,
    (r) => r.stageFinishS[i] ?? Number.NaN,
    2,
    '',
  ]),
  [`RSS ${IDLE_SECONDS} s after the burst (MB)`, (r) => r.afterBurstRssMb, 0, ''],
  ['idle SIGTERM → exit (ms)', (r) => r.sigtermToExitMs, 0, ''],
];

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const admin = redis.client();
  const reader = redis.client();
  // Nothing reads the requests back: keeping 10,000 of them would grow this
  // process's heap, and its collections would show in the latencies it measures.
  const sink = await LoopbackSink.start({ record: false });
  const receiver = MODES.includes('on') ? await OtlpReceiver.start() : undefined;
  // Nothing listens there: every export is refused.
  const downPort = await freePort();
  const tracingEnv: Record<TracingMode, NodeJS.ProcessEnv> = {
    off: {},
    on: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.endpoint },
    down: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${downPort}` },
  };
  const rounds = new Map<TracingMode, RoundFigures[]>(MODES.map((mode) => [mode, []]));
  try {
    const info = parseInfo(await admin.info('server'));
    process.stdout.write(
      `redis ${info.get('redis_version')} on port ${redis.port}; ${ROUNDS} rounds per tracing mode (${MODES.join(', ')}), each a fresh service: ${SEQUENTIAL} one at a time, a burst of ${BURST}${SERVICE_NODE_ARGS.length > 0 ? `; service run with ${SERVICE_NODE_ARGS.join(' ')}` : ''}${process.env.BENCH_APP_SERVICE_ENV ? `; service settings ${process.env.BENCH_APP_SERVICE_ENV}` : ''}\n`,
    );
    for (let i = 0; i < ROUNDS; i += 1) {
      for (const mode of MODES) {
        const figures = await round(redis, admin, reader, sink, tracingEnv[mode]);
        rounds.get(mode)?.push(figures);
        process.stdout.write(`round ${i + 1} (tracing ${mode}) done\n`);
        if (figures.profile) {
          process.stdout.write(`${figures.profile}\n`);
        }
      }
    }
  } finally {
    admin.disconnect();
    reader.disconnect();
    await sink.close();
    await receiver?.close();
    await redis.dispose();
  }
  if (receiver) {
    process.stdout.write(`the OTLP receiver took ${receiver.requests.length} export requests\n`);
  }
  const only = MODES.length === 1 ? (rounds.get(MODES[0] as TracingMode) ?? []) : undefined;
  const table = new Table({
    head: only
      ? ['figure', ...only.map((_, i) => `round ${i + 1}`), 'median', 'goal']
      : ['figure', ...MODES.map((mode) => `tracing ${mode} (median)`), 'goal'],
  });
  for (const [label, pick, digits, goal] of ROWS) {
    const cells = only
      ? [...only.map((r) => pick(r).toFixed(digits)), median(only.map(pick)).toFixed(digits)]
      : MODES.map((mode) => median((rounds.get(mode) ?? []).map(pick)).toFixed(digits));
    table.push([label, ...cells, goal]);
  }
  process.stdout.write(`${table.toString()}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 === 1
    ? (sorted[(sorted.length - 1) / 2] as number)
    : ((sorted[sorted.length / 2 - 1] as number) + (sorted[sorted.length / 2] as number)) / 2;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:app failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
