import type { Cluster } from 'ioredis';
import { RedisCluster } from '../../dev/redis-cluster';

// Real: six redis-servers in cluster mode (3 masters, 3 replicas) on loopback,
// made a cluster by redis-cli --cluster create. Proves the harness the
// Cluster and failover tests stand on.
describe('RedisCluster (dev harness)', () => {
  let cluster: RedisCluster;
  let client: Cluster | undefined;
  const key = '{harness:pipeline}:deployment:started';

  beforeAll(async () => {
    cluster = await RedisCluster.start();
  });

  afterEach(async () => {
    await client?.del(key).catch(() => undefined);
    client?.disconnect();
    client = undefined;
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('serves every slot with 3 masters, each with a replica', async () => {
    expect(cluster.nodes).toHaveLength(6);
    client = cluster.client();
    await client.set(key, 'v');
    const shard = await cluster.shardOf(key);
    expect(shard.replica).toBeDefined();
    expect(shard.replica?.port).not.toBe(shard.master.port);
    const direct = shard.master.client();
    try {
      expect(await direct.get(key)).toBe('v');
    } finally {
      direct.disconnect();
    }
  });

  it('hands a master’s slots to its replica on CLUSTER FAILOVER, then on kill -9', async () => {
    client = cluster.client();
    await client.set(key, 'kept');
    const before = await cluster.shardOf(key);
    const replica = before.replica;
    if (!replica) {
      throw new Error('the key’s master has no replica');
    }

    await cluster.failover(replica);
    const afterFailover = await cluster.shardOf(key);
    expect(afterFailover.master.port).toBe(replica.port);
    expect(afterFailover.replica?.port).toBe(before.master.port);
    expect(await client.get(key)).toBe('kept');

    await cluster.kill9(afterFailover.master);
    await cluster.waitHealthy();
    const afterKill = await cluster.shardOf(key);
    expect(afterKill.master.port).toBe(before.master.port);
    expect(afterKill.replica).toBeUndefined();
    expect(await client.get(key)).toBe('kept');
  });
});
