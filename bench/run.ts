/**
 * `npm run bench`: throughput and latency of a four-stage chain of the stream
 * runtime against a minimal hand-written ioredis chain and a four-queue
 * BullMQ chain (the peer a NestJS user would pick), in the same run, on a
 * private redis-server. Figures are machine-dependent: read the ratios.
 *
 * BENCH_EVENTS (default 100000) sets the throughput event count per run of
 * the streams chains, BENCH_PEER_EVENTS (default 20000) BullMQ's (it is
 * several times slower; events/s are comparable whatever the count),
 * BENCH_THROUGHPUT_ROUNDS (default 2) the runs per chain, in rotating order,
 * BENCH_RATE_SECONDS (default 10) the length of each chain's 1,000/s latency
 * run, split into BENCH_LATENCY_ROUNDS (default 5) alternating rounds,
 * BENCH_CONCURRENCY (default 100) each stage's concurrency in every chain.
 *
 * Then two topology sections. Service processes: the real app (`node
 * dist/main.js run`, all four workers, loopback health target and webhook),
 * 1 vs 2 processes on one standalone Redis, a burst of BENCH_PROCESS_BURST
 * (default 2000) deployments each round, BENCH_PROCESS_ROUNDS (default 2, at
 * least 2) rounds. Cluster: the runtime chain on a 3-master loopback Redis
 * Cluster against the same chain on the standalone server, BENCH_CLUSTER_EVENTS
 * (default 50000) events per run, BENCH_CLUSTER_ROUNDS (default 2, at least 2)
 * runs each, alternating.
 */
import Table from 'cli-table3';
import type Redis from 'ioredis';
import { RedisCluster } from '../dev/redis-cluster';
import { RedisServer } from '../dev/redis-server';
import { type BenchChain, payload } from './bench-chain';
import { BullmqChain } from './bullmq-chain';
import { serviceProcessFigures } from './service-replicas';
import { clusterRedis, rawChain, runtimeChain, runtimeChainOn } from './stream-chains';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const PEER_EVENTS = Number(process.env.BENCH_PEER_EVENTS ?? 20_000);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const THROUGHPUT_ROUNDS = Math.max(1, Number(process.env.BENCH_THROUGHPUT_ROUNDS ?? 2));
const LATENCY_ROUNDS = Math.max(1, Number(process.env.BENCH_LATENCY_ROUNDS ?? 5));
const RATE = 1000;
const PROCESS_BURST = Number(process.env.BENCH_PROCESS_BURST ?? 2000);
const PROCESS_ROUNDS = Math.max(2, Number(process.env.BENCH_PROCESS_ROUNDS ?? 2));
const CLUSTER_EVENTS = Number(process.env.BENCH_CLUSTER_EVENTS ?? 50_000);
const CLUSTER_ROUNDS = Math.max(2, Number(process.env.BENCH_CLUSTER_ROUNDS ?? 2));

const KINDS = ['runtime', 'raw', 'bullmq'] as const;
type Kind = (typeof KINDS)[number];

const nowMs = (): number => performance.timeOrigin + performance.now();

function chainOf(server: RedisServer, kind: Kind, prefix: string): BenchChain {
  switch (kind) {
    case 'runtime':
      return runtimeChain(server.url, prefix, CONCURRENCY);
    case 'raw':
      return rawChain(server.url, prefix);
    case 'bullmq':
      return new BullmqChain(
        { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null },
        prefix,
        CONCURRENCY,
      );
  }
}

/**
 * Rotating order per round, so that a drift in the machine's speed over the
 * bench weighs on every chain alike: raw, runtime, bullmq, then reversed.
 */
function orderOf(round: number): Kind[] {
  const order: Kind[] = ['raw', 'runtime', 'bullmq'];
  return round % 2 === 0 ? order : order.reverse();
}

/** Peak RSS sampled every 50 ms while `fn` runs. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<[T, number]> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    return [await fn(), peak];
  } finally {
    clearInterval(timer);
  }
}

/** A full GC when node runs with --expose-gc (npm run bench does); a no-op otherwise. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function throughput(server: RedisServer, kind: Kind, round: number) {
  const events = kind === 'bullmq' ? PEER_EVENTS : EVENTS;
  const chain = chainOf(server, kind, `bench:${kind}:tp:${round}`);
  const size = await chain.prefill(Array.from({ length: events }, (_, i) => payload(i)));
  collectGarbage();
  const [seconds, peak] = await withPeakRss(async () => {
    const begun = performance.now();
    await chain.start();
    await chain.waitFinished(events, 600_000);
    return (performance.now() - begun) / 1000;
  });
  await chain.stop();
  return { events, seconds, size, peak };
}

/** Every chain's throughput over THROUGHPUT_ROUNDS runs; events/s over all of a chain's runs together. */
async function throughputs(server: RedisServer) {
  const runs = new Map<Kind, Array<Awaited<ReturnType<typeof throughput>>>>(
    KINDS.map((kind) => [kind, []]),
  );
  for (let round = 0; round < THROUGHPUT_ROUNDS; round += 1) {
    for (const kind of orderOf(round)) {
      runs.get(kind)?.push(await throughput(server, kind, round));
    }
  }
  return new Map(
    KINDS.map((kind) => {
      const all = runs.get(kind) ?? [];
      const seconds = all.reduce((sum, run) => sum + run.seconds, 0);
      const events = all.reduce((sum, run) => sum + run.events, 0);
      return [
        kind,
        {
          eventsPerSecond: events / seconds,
          seconds: seconds / all.length,
          size: all[0]?.size ?? NaN,
          peak: Math.max(...all.map((run) => run.peak)),
          perRun: all.map((run) => run.events / run.seconds),
        },
      ];
    }),
  );
}

/**
 * Publishes `seconds * RATE` events at a fixed rate into a fresh chain and
 * returns each one's publish-to-last-stage latency, and how long the idle
 * chain then takes to stop.
 */
async function latencyRound(server: RedisServer, kind: Kind, round: number, seconds: number) {
  const chain = chainOf(server, kind, `bench:${kind}:lat:${round}`);
  const latencies: number[] = [];
  await chain.start((done) => latencies.push(nowMs() - done.t0));
  const total = Math.round(RATE * seconds);
  await new Promise((r) => setTimeout(r, 100));
  const begun = nowMs();
  for (let i = 0; i < total; i += 1) {
    // Fixed schedule: event i leaves at begun + i ms, whatever the previous one cost.
    const wait = begun + (i * 1000) / RATE - nowMs();
    if (wait > 1) {
      await new Promise((r) => setTimeout(r, wait));
    }
    chain.publish(payload(i, nowMs()));
  }
  await chain.waitFinished(total, 120_000);
  const deadline = Date.now() + 5000;
  while (latencies.length < total && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  // Idle now: how long a stop takes with every reader blocked on an empty input.
  await new Promise((r) => setTimeout(r, 300));
  const stopMs = await chain.stop();
  return { latencies, stopMs };
}

/**
 * Latency of every chain at RATE events/s, in LATENCY_ROUNDS short rounds
 * that alternate between them: on a shared, noisy machine a burst of
 * outside load then lands on all chains alike instead of deciding one
 * chain's tail on its own. Percentiles are over all of a chain's rounds.
 */
async function latencies(server: RedisServer) {
  const samples = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  const stops = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  const roundP99 = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  const seconds = RATE_SECONDS / LATENCY_ROUNDS;
  // A short round each, not counted: code paths warm, connections made.
  for (const kind of KINDS) {
    collectGarbage();
    await latencyRound(server, kind, -1, Math.min(1, seconds));
  }
  for (let round = 0; round < LATENCY_ROUNDS; round += 1) {
    for (const kind of orderOf(round)) {
      // Every round starts from the same clean heap, so a major GC left
      // over from the previous round does not land on this one.
      collectGarbage();
      const result = await latencyRound(server, kind, round, seconds);
      samples.get(kind)?.push(...result.latencies);
      roundP99.get(kind)?.push(percentile(result.latencies, 0.99));
      stops.get(kind)?.push(result.stopMs);
    }
  }
  return new Map(
    KINDS.map((kind) => [
      kind,
      {
        p50: percentile(samples.get(kind) ?? [], 0.5),
        p99: percentile(samples.get(kind) ?? [], 0.99),
        roundP99: roundP99.get(kind) ?? [],
        stopMs: Math.max(...(stops.get(kind) ?? [])),
      },
    ]),
  );
}

/** Events/s of one prefilled run of `chain`. */
async function chainRun(chain: BenchChain, events: number): Promise<number> {
  await chain.prefill(Array.from({ length: events }, (_, i) => payload(i)));
  collectGarbage();
  const begun = performance.now();
  await chain.start();
  await chain.waitFinished(events, 600_000);
  const seconds = (performance.now() - begun) / 1000;
  await chain.stop();
  return events / seconds;
}

/**
 * The runtime chain on a 3-master Cluster and on the standalone server, in
 * alternating runs. One pipeline is one hash tag, so one master does all of
 * its work: expect close to 1x, the Cluster's cost being its client.
 */
async function clusterVsStandalone(server: RedisServer): Promise<void> {
  const cluster = await RedisCluster.start();
  const runs = { standalone: [] as number[], cluster: [] as number[] };
  try {
    const onCluster = clusterRedis(cluster.seeds.split(','));
    for (let round = 0; round < CLUSTER_ROUNDS; round += 1) {
      const order = round % 2 === 0 ? ['standalone', 'cluster'] : ['cluster', 'standalone'];
      for (const where of order) {
        // Hash-tagged on both, so the keys are the same shape.
        const prefix = `{bench:${where}:${round}}`;
        const chain =
          where === 'cluster'
            ? runtimeChainOn(onCluster, prefix, CONCURRENCY)
            : runtimeChain(server.url, prefix, CONCURRENCY);
        runs[where as keyof typeof runs].push(await chainRun(chain, CLUSTER_EVENTS));
      }
    }
  } finally {
    await cluster.stop();
  }
  const overall = (rates: number[]) =>
    (CLUSTER_EVENTS * rates.length) / rates.reduce((sum, rate) => sum + CLUSTER_EVENTS / rate, 0);
  const standalone = overall(runs.standalone);
  const onCluster = overall(runs.cluster);
  const table = new Table({
    head: ['runtime chain, events/s', 'standalone', '3-master Cluster', 'Cluster/standalone'],
  });
  table.push([
    `${CLUSTER_EVENTS} events, ${CLUSTER_ROUNDS} runs each`,
    standalone.toFixed(0),
    onCluster.toFixed(0),
    `${(onCluster / standalone).toFixed(2)}x`,
  ]);
  console.log(table.toString());
  const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
  console.log(
    `events/s per run: standalone ${list(runs.standalone)}; Cluster ${list(runs.cluster)}`,
  );
}

/** 1 vs 2 processes of the real app on the standalone server. */
async function serviceProcesses(server: RedisServer): Promise<void> {
  const { perRound, overall } = await serviceProcessFigures(
    server,
    [1, 2],
    PROCESS_ROUNDS,
    PROCESS_BURST,
  );
  const one = overall.get(1) ?? NaN;
  const two = overall.get(2) ?? NaN;
  const table = new Table({
    head: ['real app (dist/main.js run), deployments/s', '1 process', '2 processes', '2/1'],
  });
  table.push([
    `burst of ${PROCESS_BURST}, ${PROCESS_ROUNDS} rounds each`,
    one.toFixed(0),
    two.toFixed(0),
    `${(two / one).toFixed(2)}x`,
  ]);
  console.log(table.toString());
  const list = (values: number[] | undefined) => (values ?? []).map((v) => v.toFixed(0)).join(' ');
  console.log(
    `deployments/s per round: 1 process ${list(perRound.get(1))}; 2 processes ${list(perRound.get(2))}`,
  );
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const redis: Redis = server.client();
  try {
    const version = (await redis.info('server')).match(/redis_version:(\S+)/)?.[1];
    console.log(
      `redis ${version} on port ${server.port}; ${EVENTS} events (BullMQ ${PEER_EVENTS}), concurrency ${CONCURRENCY}/stage, ` +
        `${THROUGHPUT_ROUNDS} throughput runs per chain, ` +
        `latency ${RATE_SECONDS}s per chain at ${RATE}/s in ${LATENCY_ROUNDS} alternating rounds`,
    );
    const tp = await throughputs(server);
    const lat = await latencies(server);
    const get = <T>(map: Map<Kind, T>, kind: Kind): T => map.get(kind) as T;
    const [rtTp, rawTp, bqTp] = KINDS.map((kind) => get(tp, kind));
    const [rtLat, rawLat, bqLat] = KINDS.map((kind) => get(lat, kind));
    if (!rtTp || !rawTp || !bqTp || !rtLat || !rawLat || !bqLat) {
      throw new Error('a chain was not measured');
    }
    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    const table = new Table({
      head: ['figure', 'runtime', 'raw ioredis', 'BullMQ', 'runtime/raw', 'runtime/BullMQ', 'goal'],
    });
    table.push(
      [
        'throughput (events/s)',
        rtTp.eventsPerSecond.toFixed(0),
        rawTp.eventsPerSecond.toFixed(0),
        bqTp.eventsPerSecond.toFixed(0),
        ratio(rtTp.eventsPerSecond, rawTp.eventsPerSecond),
        ratio(rtTp.eventsPerSecond, bqTp.eventsPerSecond),
        '>= 0.8x raw; >= 10x BullMQ',
      ],
      [
        'wall time per run (s)',
        ...[rtTp, rawTp, bqTp].map((t) => t.seconds.toFixed(1)),
        '',
        '',
        '',
      ],
      [
        'p50 at 1,000/s (ms)',
        ...[rtLat, rawLat, bqLat].map((l) => l.p50.toFixed(1)),
        ratio(rtLat.p50, rawLat.p50),
        ratio(rtLat.p50, bqLat.p50),
        '',
      ],
      [
        'p99 at 1,000/s (ms)',
        ...[rtLat, rawLat, bqLat].map((l) => l.p99.toFixed(1)),
        ratio(rtLat.p99, rawLat.p99),
        ratio(rtLat.p99, bqLat.p99),
        '<= 1.5x raw',
      ],
      [
        'idle stop, 4 stages (ms, worst round)',
        ...[rtLat, rawLat, bqLat].map((l) => l.stopMs.toFixed(1)),
        '',
        '',
        '< 500 ms',
      ],
      ['peak RSS during throughput run', ...[rtTp, rawTp, bqTp].map((t) => mb(t.peak)), '', '', ''],
      ['event size (bytes)', ...[rtTp, rawTp, bqTp].map((t) => t.size.toFixed(0)), '', '', '~300'],
    );
    console.log(table.toString());
    const rounds = (values: number[]) => values.map((v) => v.toFixed(1)).join(' ');
    console.log(
      `events/s per throughput run: runtime ${rounds(rtTp.perRun)}; raw ${rounds(rawTp.perRun)}; BullMQ ${rounds(bqTp.perRun)}`,
    );
    console.log(
      `p99 per latency round (ms): runtime ${rounds(rtLat.roundP99)}; raw ${rounds(rawLat.roundP99)}; BullMQ ${rounds(bqLat.roundP99)}`,
    );
    console.log(
      `process peak RSS (maxRSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
    await serviceProcesses(server);
    await clusterVsStandalone(server);
  } finally {
    redis.disconnect();
    await server.dispose();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
