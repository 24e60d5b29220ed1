import type Redis from 'ioredis';
import { RedisSentinel } from '../../dev/redis-sentinel';

// Real: a master, its replica and three sentinels (quorum 2) on loopback.
// Proves the harness the Sentinel failover test stands on.
describe('RedisSentinel (dev harness)', () => {
  let deployment: RedisSentinel;
  let client: Redis | undefined;

  beforeAll(async () => {
    deployment = await RedisSentinel.start();
  });

  afterAll(async () => {
    client?.disconnect();
    await deployment.stop();
  });

  it('promotes the replica when the master is killed with -9', async () => {
    client = deployment.client();
    client.on('error', () => undefined);
    await client.set('harness:key', 'replicated');
    const replica = deployment.replica;
    expect(replica).toBeDefined();
    // The write must reach the replica before the kill: replication is asynchronous.
    await client.wait(1, 5000);

    const promoted = await deployment.kill9Master();
    expect(promoted.port).toBe(replica?.port);
    expect(deployment.master.port).toBe(promoted.port);
    expect(await client.get('harness:key')).toBe('replicated');
  });
});
