/**
 * `npm run bench`: throughput and latency of a four-stage chain of the stream
 * runtime against a minimal hand-written ioredis chain, in the same run, on a
 * private redis-server. Figures are machine-dependent: read the ratios.
 *
 * BENCH_EVENTS (default 100000) sets the throughput event count per run,
 * BENCH_THROUGHPUT_ROUNDS (default 2) the runs per chain, in ABBA order,
 * BENCH_RATE_SECONDS (default 10) the length of each chain's 1,000/s latency
 * run, split into BENCH_LATENCY_ROUNDS (default 5) alternating rounds,
 * BENCH_CONCURRENCY (default 100) each runtime stage's concurrency.
 */
import Redis, { type RedisOptions } from 'ioredis';
import Table from 'cli-table3';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { baseRedisOptions } from '../src/redis/redis-options';
import { encodeEnvelope } from '../src/streams/envelope';
import type { InboundMessage } from '../src/streams/handler';
import { type ConsumerLogger, StreamConsumer } from '../src/streams/consumer';
import { EVENT_TYPES, type EventType } from '../src/streams/topology';
import { RedisServer } from '../dev/redis-server';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const THROUGHPUT_ROUNDS = Math.max(1, Number(process.env.BENCH_THROUGHPUT_ROUNDS ?? 2));
const LATENCY_ROUNDS = Math.max(1, Number(process.env.BENCH_LATENCY_ROUNDS ?? 5));
const RATE = 1000;

const CHAIN: EventType[] = [
  EVENT_TYPES.deploymentStarted,
  EVENT_TYPES.validationCompleted,
  EVENT_TYPES.dependencyChecked,
  EVENT_TYPES.healthChecked,
  EVENT_TYPES.notificationSent,
];
const WORKERS = ['validator', 'dependency', 'health', 'notifier'] as const;

const quiet: ConsumerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields) => process.stderr.write(`${JSON.stringify(fields)}\n`),
  error: (fields) => process.stderr.write(`${JSON.stringify(fields)}\n`),
};

const nowMs = (): number => performance.timeOrigin + performance.now();

/** An envelope of about 300 bytes; `data.t0` carries the publish time through the chain. */
function eventFields(i: number, t0 = 0): string[] {
  return encodeEnvelope({
    specversion: '1.0',
    id: `bench-${i.toString().padStart(8, '0')}-0000-4000-8000-000000000000`,
    type: EVENT_TYPES.deploymentStarted,
    source: 'bench',
    subject: `dep-${i}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      deploymentId: `dep-${i}`,
      service: 'billing-api',
      version: '1.4.2',
      t0,
      pad: 'x'.repeat(60),
    },
  });
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

async function waitForLength(redis: Redis, stream: string, length: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while ((await redis.xlen(stream)) < length) {
    if (Date.now() > deadline) {
      throw new Error(`${stream} did not reach ${length} entries within ${timeoutMs}ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function prefill(redis: Redis, stream: string, count: number): Promise<number> {
  let bytes = 0;
  for (let start = 0; start < count; start += 1000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + 1000); i += 1) {
      const fields = eventFields(i);
      bytes += fields.reduce((n, f) => n + Buffer.byteLength(f), 0);
      pipeline.xadd(stream, '*', ...fields);
    }
    await pipeline.exec();
  }
  return bytes / count;
}

interface Chain {
  start(): Promise<void>;
  stop(): Promise<number>;
}

/** The runtime: four StreamConsumers, each passing its input's data on to the next stream. */
function runtimeChain(url: string, prefix: string): Chain {
  const registry = new Registry();
  const registers = [registry];
  const metrics = {
    processed: new Counter({ name: 'p', help: 'h', labelNames: ['worker', 'outcome'], registers }),
    processingSeconds: new Histogram({ name: 's', help: 'h', labelNames: ['worker'], registers }),
    inFlight: new Gauge({ name: 'f', help: 'h', labelNames: ['worker'], registers }),
    deadLetters: new Counter({ name: 'd', help: 'h', labelNames: ['worker', 'reason'], registers }),
    errors: new Counter({ name: 'e', help: 'h', labelNames: ['worker', 'kind'], registers }),
  };
  const consumers = WORKERS.map((worker, stage) => {
    const input = CHAIN[stage] as EventType;
    const next = CHAIN[stage + 1] as EventType;
    return new StreamConsumer({
      spec: {
        worker,
        group: `printery-${worker}`,
        streams: [{ stream: `${prefix}:${input}`, eventType: input }],
        concurrency: CONCURRENCY,
        handlerTimeoutMs: 10_000,
        handler: (message: InboundMessage) =>
          Promise.resolve({
            outcome: 'ok',
            outputs: [{ type: next, data: message.envelope.data }],
          }),
      },
      settings: {
        prefix,
        registryPrefix: `${prefix}:registry`,
        groupStartId: '0',
        maxLen: 0,
        maxDeliveries: 5,
        claimIdleMs: 60_000,
        maxEventBytes: 65_536,
        blockMs: 5000,
        hangThresholdMs: 30_000,
      },
      connect: (name: string, overrides: RedisOptions) =>
        new Redis(url, { ...baseRedisOptions(name), ...overrides }),
      metrics,
      logger: quiet,
      counters: { processed: 0, failed: 0, deadLettered: 0 },
    });
  });
  return {
    async start() {
      await Promise.all(consumers.map((c) => c.start((e) => console.error(e))));
    },
    async stop() {
      const begun = performance.now();
      await Promise.all(consumers.map((c) => c.stop(Date.now() + 5000)));
      return performance.now() - begun;
    },
  };
}

/** The baseline: XREADGROUP COUNT 100, then one pipeline of MULTI/XADD/XACK/EXEC per message. */
function rawChain(url: string, prefix: string): Chain {
  const connections: Redis[] = [];
  let running = true;
  const loops: Array<Promise<void>> = [];
  const stage = async (index: number): Promise<void> => {
    const input = `${prefix}:${CHAIN[index]}`;
    const output = `${prefix}:${CHAIN[index + 1]}`;
    const group = `raw-${index}`;
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    connections.push(redis);
    await redis.xgroup('CREATE', input, group, '0', 'MKSTREAM').catch(() => undefined);
    while (running) {
      const reply = (await redis
        .xreadgroup('GROUP', group, 'c', 'COUNT', 100, 'BLOCK', 1000, 'STREAMS', input, '>')
        .catch(() => null)) as Array<[string, Array<[string, string[]]>]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) {
        continue;
      }
      const pipeline = redis.pipeline();
      for (const [id, fields] of entries) {
        pipeline.call('MULTI');
        pipeline.xadd(output, '*', ...fields);
        pipeline.xack(input, group, id);
        pipeline.call('EXEC');
      }
      await pipeline.exec();
    }
  };
  return {
    async start() {
      for (let i = 0; i < 4; i += 1) {
        loops.push(stage(i));
      }
      await new Promise((r) => setTimeout(r, 100));
    },
    async stop() {
      const begun = performance.now();
      running = false;
      for (const c of connections) {
        c.disconnect();
      }
      await Promise.allSettled(loops);
      return performance.now() - begun;
    },
  };
}

async function throughput(url: string, redis: Redis, kind: 'runtime' | 'raw', round: number) {
  const prefix = `bench:${kind}:tp:${round}`;
  const size = await prefill(redis, `${prefix}:${CHAIN[0]}`, EVENTS);
  const chain = kind === 'runtime' ? runtimeChain(url, prefix) : rawChain(url, prefix);
  collectGarbage();
  const [seconds, peak] = await withPeakRss(async () => {
    const begun = performance.now();
    await chain.start();
    await waitForLength(redis, `${prefix}:${CHAIN[4]}`, EVENTS, 600_000);
    return (performance.now() - begun) / 1000;
  });
  await chain.stop();
  // The next run starts from an empty server.
  await redis.flushall();
  return { eventsPerSecond: EVENTS / seconds, seconds, size, peak };
}

type Throughput = Awaited<ReturnType<typeof throughput>>;

/**
 * Throughput of both chains over THROUGHPUT_ROUNDS runs each, in ABBA order
 * (raw, runtime, runtime, raw, …) so that a drift in the machine's speed
 * over the bench weighs on both alike. Events/s is over all runs of a
 * chain together (total events / total time); RSS is the peak of any run.
 */
async function throughputs(url: string, redis: Redis) {
  const runs = { runtime: [] as Throughput[], raw: [] as Throughput[] };
  for (let round = 0; round < THROUGHPUT_ROUNDS; round += 1) {
    const order: Array<'runtime' | 'raw'> =
      round % 2 === 0 ? ['raw', 'runtime'] : ['runtime', 'raw'];
    for (const kind of order) {
      runs[kind].push(await throughput(url, redis, kind, round));
    }
  }
  const summary = (kind: 'runtime' | 'raw') => {
    const all = runs[kind];
    const seconds = all.reduce((sum, run) => sum + run.seconds, 0);
    return {
      eventsPerSecond: (EVENTS * all.length) / seconds,
      seconds: seconds / all.length,
      size: all[0]?.size ?? NaN,
      peak: Math.max(...all.map((run) => run.peak)),
      perRun: all.map((run) => run.eventsPerSecond),
    };
  };
  return { runtime: summary('runtime'), raw: summary('raw') };
}

/** A full GC when node runs with --expose-gc (npm run bench does); a no-op otherwise. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

/**
 * Publishes `seconds * RATE` events at a fixed rate into a fresh chain and
 * returns each one's publish-to-last-stage latency, and how long the idle
 * chain then takes to stop.
 */
async function latencyRound(
  url: string,
  kind: 'runtime' | 'raw',
  round: number,
  seconds: number,
): Promise<{ latencies: number[]; stopMs: number }> {
  const prefix = `bench:${kind}:lat:${round}`;
  const chain = kind === 'runtime' ? runtimeChain(url, prefix) : rawChain(url, prefix);
  await chain.start();
  const total = Math.round(RATE * seconds);
  const tail = new Redis(url);
  const publisher = new Redis(url);
  const latencies: number[] = [];
  const final = `${prefix}:${CHAIN[4]}`;
  const reading = (async () => {
    let last = '$';
    while (latencies.length < total) {
      const reply = await tail.xread('COUNT', 1000, 'BLOCK', 2000, 'STREAMS', final, last);
      const entries = reply?.[0]?.[1] ?? [];
      const at = nowMs();
      for (const [id, fields] of entries) {
        last = id;
        const data = fields[fields.indexOf('data') + 1] ?? '{}';
        latencies.push(at - (JSON.parse(data) as { t0: number }).t0);
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  const begun = nowMs();
  for (let i = 0; i < total; i += 1) {
    // Fixed schedule: event i leaves at begun + i ms, whatever the previous one cost.
    const due = begun + (i * 1000) / RATE;
    const wait = due - nowMs();
    if (wait > 1) {
      await new Promise((r) => setTimeout(r, wait));
    }
    void publisher.xadd(`${prefix}:${CHAIN[0]}`, '*', ...eventFields(i, nowMs()));
  }
  await reading;
  // Idle now: how long a stop takes with every reader blocked on an empty stream.
  await new Promise((r) => setTimeout(r, 300));
  const stopMs = await chain.stop();
  tail.disconnect();
  publisher.disconnect();
  return { latencies, stopMs };
}

/**
 * Latency of both chains at RATE events/s, in LATENCY_ROUNDS short rounds
 * that alternate between them (raw first in odd rounds, runtime first in
 * even ones): on a shared, noisy machine a burst of outside load then lands
 * on both chains alike instead of deciding one chain's tail on its own.
 * Percentiles are taken over all of a chain's rounds together.
 */
async function latencies(url: string) {
  const samples = { runtime: [] as number[], raw: [] as number[] };
  const stops = { runtime: [] as number[], raw: [] as number[] };
  const roundP99 = { runtime: [] as number[], raw: [] as number[] };
  const seconds = RATE_SECONDS / LATENCY_ROUNDS;
  // A short round each, not counted: code paths warm, connections made.
  for (const kind of ['raw', 'runtime'] as const) {
    collectGarbage();
    await latencyRound(url, kind, -1, Math.min(1, seconds));
  }
  for (let round = 0; round < LATENCY_ROUNDS; round += 1) {
    const order: Array<'runtime' | 'raw'> =
      round % 2 === 0 ? ['raw', 'runtime'] : ['runtime', 'raw'];
    for (const kind of order) {
      // Every round starts from the same clean heap, so a major GC left
      // over from the previous round does not land on this one.
      collectGarbage();
      const result = await latencyRound(url, kind, round, seconds);
      samples[kind].push(...result.latencies);
      roundP99[kind].push(percentile(result.latencies, 0.99));
      stops[kind].push(result.stopMs);
    }
  }
  const summary = (kind: 'runtime' | 'raw') => ({
    p50: percentile(samples[kind], 0.5),
    p99: percentile(samples[kind], 0.99),
    roundP99: roundP99[kind],
    stopMs: Math.max(...stops[kind]),
  });
  return { runtime: summary('runtime'), raw: summary('raw') };
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const redis = server.client();
  try {
    const version = (await redis.info('server')).match(/redis_version:(\S+)/)?.[1];
    console.log(
      `redis ${version} on port ${server.port}; ${EVENTS} events, runtime concurrency ${CONCURRENCY}/stage, ` +
        `${THROUGHPUT_ROUNDS} throughput runs per chain, ` +
        `latency ${RATE_SECONDS}s per chain at ${RATE}/s in ${LATENCY_ROUNDS} alternating rounds`,
    );
    const { runtime: rtTp, raw: rawTp } = await throughputs(server.url, redis);
    const { runtime: rtLat, raw: rawLat } = await latencies(server.url);

    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    const table = new Table({ head: ['figure', 'runtime', 'raw ioredis', 'ratio', 'goal'] });
    table.push(
      [
        'throughput (events/s)',
        rtTp.eventsPerSecond.toFixed(0),
        rawTp.eventsPerSecond.toFixed(0),
        `${(rtTp.eventsPerSecond / rawTp.eventsPerSecond).toFixed(2)}x`,
        '>= 0.8x',
      ],
      ['wall time per run (s)', rtTp.seconds.toFixed(1), rawTp.seconds.toFixed(1), '', ''],
      [
        'p50 at 1,000/s (ms)',
        rtLat.p50.toFixed(1),
        rawLat.p50.toFixed(1),
        `${(rtLat.p50 / rawLat.p50).toFixed(2)}x`,
        '',
      ],
      [
        'p99 at 1,000/s (ms)',
        rtLat.p99.toFixed(1),
        rawLat.p99.toFixed(1),
        `${(rtLat.p99 / rawLat.p99).toFixed(2)}x`,
        '<= 1.5x',
      ],
      [
        'idle stop, 4 stages (ms, worst round)',
        rtLat.stopMs.toFixed(1),
        rawLat.stopMs.toFixed(1),
        '',
        '< 500 ms',
      ],
      ['peak RSS during throughput run', mb(rtTp.peak), mb(rawTp.peak), '', ''],
      ['event size (bytes)', rtTp.size.toFixed(0), rawTp.size.toFixed(0), '', '~300'],
    );
    console.log(table.toString());
    const rounds = (values: number[]) => values.map((v) => v.toFixed(1)).join(' ');
    console.log(
      `events/s per throughput run: runtime ${rounds(rtTp.perRun)}; raw ${rounds(rawTp.perRun)}`,
    );
    console.log(
      `p99 per latency round (ms): runtime ${rounds(rtLat.roundP99)}; raw ${rounds(rawLat.roundP99)}`,
    );
    console.log(
      `process peak RSS (maxRSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
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
