import type Redis from 'ioredis';
import { LoopbackSink } from '../dev/loopback-sink';
import { type RedisServer, freePort } from '../dev/redis-server';
import { EVENT_TYPES } from '../src/streams/topology';
import {
  SEEDED_DEPENDENCY,
  type Service,
  deploymentFields,
  spawnService,
  untilReady,
} from './service-process';

const PREFIX = 'bench:replicas';
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Deployments/s of a burst through `processes` service processes (the real
 * app, `node dist/main.js run`, all four workers) sharing one consumer group
 * per worker on a standalone Redis: every deployment added at once (one
 * pipeline), timed until all are notified. A fresh server state and fresh
 * processes each time.
 */
async function burstThrough(
  admin: Redis,
  redis: RedisServer,
  sink: LoopbackSink,
  processes: number,
  burst: number,
): Promise<number> {
  await admin.flushall();
  await admin.hset(`${PREFIX}:registry:staging`, SEEDED_DEPENDENCY.field, SEEDED_DEPENDENCY.value);
  const services: Service[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      services.push(spawnService(redis.url, await freePort(), sink, PREFIX));
    }
    await Promise.all(services.map((service) => untilReady(service, 30_000)));
    const pipeline = admin.pipeline();
    for (let i = 0; i < burst; i++) {
      pipeline.xadd(
        `${PREFIX}:${EVENT_TYPES.deploymentStarted}`,
        '*',
        ...deploymentFields(sink, i),
      );
    }
    const begun = performance.now();
    await pipeline.exec();
    const deadline = begun + 300_000;
    while ((await admin.xlen(`${PREFIX}:${EVENT_TYPES.notificationSent}`)) < burst) {
      if (performance.now() > deadline) {
        throw new Error(`${processes} process(es): the burst did not finish within 300 s`);
      }
      await sleep(50);
    }
    return burst / ((performance.now() - begun) / 1000);
  } finally {
    for (const service of services) {
      service.child.kill('SIGTERM');
    }
    await Promise.all(services.map((service) => service.exited));
  }
}

export interface ProcessFigures {
  /** Deployments/s of each round, per process count. */
  perRound: Map<number, number[]>;
  /** Deployments/s over all rounds (total deployments over total time), per process count. */
  overall: Map<number, number>;
}

/**
 * 1 vs 2 service processes (or any `counts`) on the same standalone Redis,
 * `rounds` rounds in alternating order so a drift of the machine's speed
 * weighs on both alike.
 */
export async function serviceProcessFigures(
  redis: RedisServer,
  counts: number[],
  rounds: number,
  burst: number,
): Promise<ProcessFigures> {
  const admin = redis.client();
  const sink = await LoopbackSink.start({ record: false });
  const perRound = new Map<number, number[]>(counts.map((n) => [n, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? counts : [...counts].reverse();
      for (const n of order) {
        perRound.get(n)?.push(await burstThrough(admin, redis, sink, n, burst));
      }
    }
    await admin.flushall();
  } finally {
    admin.disconnect();
    await sink.close();
  }
  const overall = new Map(
    counts.map((n) => {
      const rates = perRound.get(n) ?? [];
      // Same burst each round: total deployments over total seconds.
      const seconds = rates.reduce((sum, rate) => sum + burst / rate, 0);
      return [n, (burst * rates.length) / seconds];
    }),
  );
  return { perRound, overall };
}
