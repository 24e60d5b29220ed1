import type { Cluster } from 'ioredis';
import { RedisCluster } from '../../dev/redis-cluster';
import { failoverScenario, useFailoverSinks, verdict } from './failover-scenario';

// Real: a 3-master, 3-replica Redis Cluster on loopback (dev/redis-cluster.ts),
// the built service (`node dist/main.js run`) in Cluster mode, loopback sinks
// for health probes and webhooks. The faults are Redis's own: a manual
// failover and a master killed with -9, while 200 deployments go through.

describe('the service on a Redis Cluster when the pipeline’s master fails over', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  const sinks = useFailoverSinks();

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    client = cluster.client();
    client.on('error', () => undefined);
  }, 60_000);

  afterAll(async () => {
    client.disconnect();
    await cluster.stop();
  });

  const during200 = (fault: (pipelineKey: string) => Promise<void>) =>
    failoverScenario({
      client,
      topologyEnv: { REDIS_CLUSTER_NODES: cluster.seeds },
      health: sinks.health,
      sink: sinks.sink,
      fault,
    });

  it('notifies every deployment through a CLUSTER FAILOVER on the master’s replica', async () => {
    const outcome = await during200(async (pipelineKey) => {
      const { replica } = await cluster.shardOf(pipelineKey);
      if (!replica) {
        throw new Error('the pipeline’s master has no replica');
      }
      await cluster.failover(replica);
    });
    expect(verdict(outcome)).toBe('ok');
  }, 240_000);

  it('notifies every deployment after the master is killed with -9', async () => {
    // The first test's pipeline was on its own slot; the cluster is whole again.
    await cluster.waitHealthy();
    const outcome = await during200(async (pipelineKey) => {
      const { master } = await cluster.shardOf(pipelineKey);
      await cluster.kill9(master);
      await cluster.waitHealthy();
    });
    expect(verdict(outcome)).toBe('ok');
  }, 240_000);
});
