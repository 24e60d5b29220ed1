import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type Redis from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { register } from 'prom-client';
import { APP_CONFIG, type AppConfig, loadConfig } from '../../src/config';
import { MetricsModule } from '../../src/metrics/metrics.module';
import { RedisModule } from '../../src/redis/redis.module';
import type { HandlerResult, InboundMessage } from '../../src/streams/handler';
import { StreamConsumerFactory } from '../../src/streams/stream-consumer.factory';
import { StreamsModule } from '../../src/streams/streams.module';
import { EVENT_TYPES, StreamTopology } from '../../src/streams/topology';
import { StreamWorker } from '../../src/workers/stream-worker';
import { eventually } from '../helpers/cli-process';
import { RedisServer } from '../../dev/redis-server';
import { eventFields } from './fixtures/build-consumer';

@Injectable()
class EchoWorker extends StreamWorker {
  constructor(factory: StreamConsumerFactory, @Inject(APP_CONFIG) config: AppConfig) {
    super('validator', factory, config);
  }

  handle(message: InboundMessage): Promise<HandlerResult> {
    return Promise.resolve({
      outcome: 'ok',
      outputs: [{ type: EVENT_TYPES.validationCompleted, data: { of: message.envelope.id } }],
    });
  }
}

function testModule(config: AppConfig) {
  @Global()
  @Module({
    providers: [{ provide: APP_CONFIG, useValue: config }],
    exports: [APP_CONFIG],
  })
  class ConfigRoot {}
  return Test.createTestingModule({
    imports: [
      ConfigRoot,
      LoggerModule.forRoot({ pinoHttp: { logger: pino({ level: 'silent' }) } }),
      RedisModule,
      StreamsModule,
      MetricsModule,
    ],
    providers: [EchoWorker],
  }).compile();
}

// Real: Nest DI with RedisModule, StreamsModule and MetricsModule, a redis-server.
describe('StreamsModule', () => {
  let server: RedisServer;
  let redis: Redis;
  let app: TestingModule | undefined;
  const prefix = 'test:module';

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = server.client();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    register.clear();
  });

  afterAll(async () => {
    redis.disconnect();
    await server.dispose();
  });

  const config = (): AppConfig =>
    loadConfig({
      env: { REDIS_URL: server.url, STREAM_PREFIX: prefix, STARTUP_TIMEOUT_MS: '2000' },
      flags: {},
    });

  it('creates the consumer groups of all four workers at startup, idempotently', async () => {
    await redis.xgroup(
      'CREATE',
      `${prefix}:deployment:started`,
      'printery-validator',
      '0',
      'MKSTREAM',
    );
    app = await testModule(config());
    await app.init();
    const topology = app.get(StreamTopology);
    for (const { stream, group } of topology.allReads()) {
      const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      expect(groups.map((g) => g[1])).toContain(group);
    }
    expect(topology.allReads()).toHaveLength(6);
  });

  it('runs a StreamWorker subclass end to end and keeps its counters across restarts', async () => {
    app = await testModule(config());
    await app.init();
    const worker = app.get(EchoWorker);
    expect(worker.dependsOn).toEqual([]);
    await worker.start(() => undefined);
    await expect(worker.start(() => undefined)).rejects.toThrow(/already running/);
    await redis.xadd(`${prefix}:deployment:started`, '*', ...eventFields('via-nest-1'));
    await eventually(() => worker.health().processed === 1);
    expect(worker.health()).toMatchObject({ healthy: true, inFlight: 0, failed: 0 });
    await worker.stop(Date.now() + 1000);

    await worker.start(() => undefined);
    await redis.xadd(`${prefix}:deployment:started`, '*', ...eventFields('via-nest-2'));
    await eventually(() => worker.health().processed === 2);
    await worker.stop(Date.now() + 1000);
    expect(await redis.xlen(`${prefix}:validation:completed`)).toBeGreaterThanOrEqual(2);
    const metrics = await register.getSingleMetricAsString('printery_events_processed_total');
    expect(metrics).toContain('printery_events_processed_total{worker="validator",outcome="ok"}');
  });
});
