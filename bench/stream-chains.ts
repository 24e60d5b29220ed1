import Redis, { type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../src/config/redis-settings';
import { type RedisClient, createRedisClient, isCluster } from '../src/redis/connection-factory';
import { Registry } from 'prom-client';
import { METRIC_DEFINITIONS, buildMetric } from '../src/metrics/metric-definitions';
import { baseRedisOptions } from '../src/redis/redis-options';
import { type ConsumerLogger, type ConsumerMetrics, StreamConsumer } from '../src/streams/consumer';
import { encodeEnvelope } from '../src/streams/envelope';
import type { InboundMessage } from '../src/streams/handler';
import { EVENT_TYPES, type EventType } from '../src/streams/topology';
import type { BenchChain, Payload } from './bench-chain';

/** The five streams of the pipeline, in order: each stage reads one and writes the next. */
export const CHAIN: EventType[] = [
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

/** An envelope of about 300 bytes carrying `payload` as its data. */
function eventFields(payload: Payload): string[] {
  return encodeEnvelope({
    specversion: '1.0',
    id: `bench-${payload.deploymentId.padStart(12, '0')}-0000-4000-8000-000000000000`,
    type: EVENT_TYPES.deploymentStarted,
    source: 'bench',
    subject: payload.deploymentId,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: payload,
  });
}

/** Where a stream chain runs: a standalone server or a Cluster, reached the way the service does. */
export interface ChainRedis {
  connect(options?: RedisOptions): RedisClient;
}

export function standaloneRedis(url: string): ChainRedis {
  return { connect: (options = {}) => new Redis(url, options) };
}

/** A Cluster from its seeds (`host:port`), through the service's own connection factory. */
export function clusterRedis(seeds: string[]): ChainRedis {
  const config: RedisConfig = {
    url: '',
    startupTimeoutMs: 10_000,
    sentinels: [],
    sentinelMaster: undefined,
    sentinelPassword: undefined,
    clusterNodes: seeds,
    username: undefined,
    password: undefined,
    tls: false,
  };
  return { connect: (options = {}) => createRedisClient(config, options) };
}

/** FLUSHALL on a server, or on every master of a Cluster. */
async function flushAll(client: RedisClient): Promise<void> {
  if (isCluster(client)) {
    await Promise.all(client.nodes('master').map((node) => node.flushall()));
  } else {
    await client.flushall();
  }
}

/** Stage code of a stream chain: started and stopped; its output is read from Redis. */
interface Stages {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The runtime's metrics exactly as the service defines them, in a registry of the bench's own. */
function benchMetrics(): ConsumerMetrics {
  const registry = new Registry();
  const build = (key: keyof typeof METRIC_DEFINITIONS) =>
    buildMetric(METRIC_DEFINITIONS[key], registry);
  return {
    processed: build('eventsProcessed'),
    processingSeconds: build('eventProcessingSeconds'),
    inFlight: build('workerInFlight'),
    deadLetters: build('deadLetters'),
    errors: build('workerErrors'),
  } as ConsumerMetrics;
}

/** The runtime: four StreamConsumers, each passing its input's data on to the next stream. */
function runtimeStages(redis: ChainRedis, prefix: string, concurrency: number): Stages {
  const metrics = benchMetrics();
  const consumers = WORKERS.map((worker, stage) => {
    const input = CHAIN[stage] as EventType;
    const next = CHAIN[stage + 1] as EventType;
    return new StreamConsumer({
      spec: {
        worker,
        group: `printery-${worker}`,
        streams: [{ stream: `${prefix}:${input}`, eventType: input }],
        concurrency,
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
        redis.connect({ ...baseRedisOptions(name), ...overrides }),
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
      await Promise.all(consumers.map((c) => c.stop(Date.now() + 5000)));
    },
  };
}

/** The baseline: XREADGROUP COUNT 100, then one pipeline of MULTI/XADD/XACK/EXEC per message. */
function rawStages(url: string, prefix: string): Stages {
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
      running = false;
      for (const c of connections) {
        c.disconnect();
      }
      await Promise.allSettled(loops);
    },
  };
}

/**
 * A chain over Redis Streams (the runtime's or the raw baseline's stages):
 * input is XADDed to the first stream, completion is the last stream's
 * length, and latency comes from tailing the last stream for `data.t0`.
 */
class StreamChain implements BenchChain {
  private readonly admin: RedisClient;
  private readonly publisher: RedisClient;
  private tail: RedisClient | undefined;
  private tailing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly redis: ChainRedis,
    private readonly prefix: string,
    private readonly stages: Stages,
  ) {
    this.admin = redis.connect();
    this.publisher = redis.connect();
  }

  private stream(index: number): string {
    return `${this.prefix}:${CHAIN[index]}`;
  }

  async prefill(payloads: Payload[]): Promise<number> {
    let bytes = 0;
    for (let start = 0; start < payloads.length; start += 1000) {
      const pipeline = this.admin.pipeline();
      for (const payload of payloads.slice(start, start + 1000)) {
        const fields = eventFields(payload);
        bytes += fields.reduce((n, f) => n + Buffer.byteLength(f), 0);
        pipeline.xadd(this.stream(0), '*', ...fields);
      }
      await pipeline.exec();
    }
    return bytes / Math.max(1, payloads.length);
  }

  publish(payload: Payload): void {
    void this.publisher.xadd(this.stream(0), '*', ...eventFields(payload));
  }

  async start(onFinal?: (payload: Payload) => void): Promise<void> {
    if (onFinal) {
      // Tail from now: only what this round publishes.
      const tail = this.redis.connect();
      this.tail = tail;
      const final = this.stream(CHAIN.length - 1);
      this.tailing = (async () => {
        let last = '$';
        while (!this.stopped) {
          const reply = await tail
            .xread('COUNT', 1000, 'BLOCK', 500, 'STREAMS', final, last)
            .catch(() => null);
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            last = id;
            onFinal(JSON.parse(fields[fields.indexOf('data') + 1] ?? '{}') as Payload);
          }
        }
      })();
    }
    await this.stages.start();
  }

  async waitFinished(count: number, timeoutMs: number): Promise<void> {
    const final = this.stream(CHAIN.length - 1);
    const deadline = Date.now() + timeoutMs;
    while ((await this.admin.xlen(final)) < count) {
      if (Date.now() > deadline) {
        throw new Error(`${final} did not reach ${count} entries within ${timeoutMs}ms`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<number> {
    const begun = performance.now();
    await this.stages.stop();
    const stopMs = performance.now() - begun;
    this.stopped = true;
    await this.tailing;
    this.tail?.disconnect();
    // The next run starts from an empty server.
    await flushAll(this.admin);
    this.admin.disconnect();
    this.publisher.disconnect();
    return stopMs;
  }
}

export function runtimeChain(url: string, prefix: string, concurrency: number): BenchChain {
  return runtimeChainOn(standaloneRedis(url), prefix, concurrency);
}

/**
 * The runtime chain on any topology; on a Cluster `prefix` must carry a
 * hash tag (`{bench}:…`), as the service's STREAM_PREFIX does.
 */
export function runtimeChainOn(redis: ChainRedis, prefix: string, concurrency: number): BenchChain {
  return new StreamChain(redis, prefix, runtimeStages(redis, prefix, concurrency));
}

export function rawChain(url: string, prefix: string): BenchChain {
  return new StreamChain(standaloneRedis(url), prefix, rawStages(url, prefix));
}
