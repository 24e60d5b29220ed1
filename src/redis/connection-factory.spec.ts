import type { Cluster, default as Redis } from 'ioredis';
import type { RedisConfig } from '../config/redis-settings';
import { createRedisClient, isCluster } from './connection-factory';
import { redisConfig } from './redis-config.harness';

/** Lazy clients: nothing here connects. */
describe('createRedisClient', () => {
  const made: Array<Redis | Cluster> = [];
  const make = (config: Partial<RedisConfig>, retry = true): Redis | Cluster => {
    const client = createRedisClient(redisConfig(config), {
      lazyConnect: true,
      connectionName: 'spec',
      retryStrategy: retry ? () => 100 : () => null,
    });
    made.push(client);
    return client;
  };

  afterEach(() => {
    made.splice(0).forEach((client) => client.disconnect());
  });

  describe('standalone', () => {
    it('takes host, port, db and credentials from the URL', () => {
      const client = make({ url: 'redis://app:from-url@10.0.0.5:6380/3' }) as Redis;
      expect(isCluster(client)).toBe(false);
      expect(client.options).toMatchObject({
        host: '10.0.0.5',
        port: 6380,
        db: 3,
        username: 'app',
        password: 'from-url',
      });
    });

    it('lets REDIS_USERNAME and REDIS_PASSWORD win over the URL', () => {
      const client = make({
        url: 'redis://app:from-url@10.0.0.5:6380',
        username: 'svc',
        password: 'from-env',
      }) as Redis;
      expect(client.options).toMatchObject({ username: 'svc', password: 'from-env' });
    });
  });

  describe('Sentinel', () => {
    it('asks the sentinels for the master and follows +switch-master', () => {
      const client = make({
        sentinels: ['10.0.0.1:26379', '10.0.0.2:26380'],
        sentinelMaster: 'mymaster',
        sentinelPassword: 'sentinel-pw',
        password: 'data-pw',
        tls: true,
      }) as Redis;
      expect(client.options).toMatchObject({
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26380 },
        ],
        name: 'mymaster',
        role: 'master',
        failoverDetector: true,
        sentinelPassword: 'sentinel-pw',
        password: 'data-pw',
        enableTLSForSentinelMode: true,
        tls: {},
        sentinelTLS: {},
      });
    });

    it('gives up on the sentinels when the connection does not retry (one-shot commands)', () => {
      const client = make({ sentinels: ['a:1'], sentinelMaster: 'm' }, false) as Redis;
      expect(client.options.sentinelRetryStrategy?.(1)).toBeNull();
    });
  });

  describe('Cluster', () => {
    it("is ioredis's Cluster client on the seeds, masters only, with the nodes' credentials", () => {
      const client = make({
        clusterNodes: ['127.0.0.1:7000', '127.0.0.1:7001'],
        username: 'svc',
        password: 'data-pw',
        tls: true,
      });
      expect(isCluster(client)).toBe(true);
      const cluster = client as Cluster;
      // ioredis keeps the seeds in a private field; only read here.
      expect((cluster as unknown as { startupNodes: unknown }).startupNodes).toEqual([
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ]);
      expect(cluster.options).toMatchObject({
        scaleReads: 'master',
        lazyConnect: true,
        redisOptions: { username: 'svc', password: 'data-pw', tls: {}, connectionName: 'spec' },
      });
      expect(cluster.options.clusterRetryStrategy?.(1, undefined)).toBe(100);
    });
  });
});
