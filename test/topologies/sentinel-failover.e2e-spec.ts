import type Redis from 'ioredis';
import { RedisSentinel } from '../../dev/redis-sentinel';
import { failoverScenario, useFailoverSinks, verdict } from './failover-scenario';

// Real: a master, its replica and three sentinels on loopback
// (dev/redis-sentinel.ts), the built service (`node dist/main.js run`) in
// Sentinel mode, loopback sinks for health probes and webhooks. The fault:
// the master killed with -9 while 200 deployments go through.

describe('the service on Redis Sentinel when the master is killed', () => {
  let deployment: RedisSentinel;
  let client: Redis;
  const sinks = useFailoverSinks();

  beforeAll(async () => {
    deployment = await RedisSentinel.start();
    client = deployment.client();
    client.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    client.disconnect();
    await deployment.stop();
  });

  it('follows the promoted replica, notifies every deployment and is ready again', async () => {
    const replicaPort = deployment.replica?.port;
    const outcome = await failoverScenario({
      client,
      topologyEnv: {
        REDIS_SENTINELS: deployment.sentinels,
        REDIS_SENTINEL_MASTER: deployment.masterName,
      },
      health: sinks.health,
      sink: sinks.sink,
      fault: async () => {
        await deployment.kill9Master();
      },
    });
    expect(deployment.master.port).toBe(replicaPort);
    expect(verdict(outcome)).toBe('ok');
  }, 240_000);
});
