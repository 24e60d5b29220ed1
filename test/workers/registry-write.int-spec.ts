import type Redis from 'ioredis';
import { type RegistryEntry, parseRegistryEntry } from '../../src/domain/registry-entry';
import { writeRegistryEntry } from '../../src/workers/health/registry-write';
import { RedisServer } from '../../dev/redis-server';

// Real: redis-server running the write script. Each case starts from an
// empty hash and writes values as the Health Monitor or older writers would.

describe('registry write (the registry never goes backwards)', () => {
  const key = 'int-registry:staging';
  let redis: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    client = redis.client();
  });

  afterAll(async () => {
    await client.quit();
    await redis.dispose();
  });

  afterEach(async () => {
    await client.del(key);
  });

  const entry = (version: string, startedId: string | null): RegistryEntry => ({
    version,
    deploymentId: `dep-${version}`,
    dependencies: [],
    healthy: true,
    updatedAt: new Date().toISOString(),
    startedId,
  });

  const stored = async (): Promise<RegistryEntry | undefined> =>
    parseRegistryEntry((await client.hget(key, 'billing-api')) ?? '');

  it('keeps the newer entry when an older deployment finishes after it', async () => {
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('2.0.0', '1700000000500-0')),
    ).toEqual({ written: true });
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', '1700000000100-3')),
    ).toEqual({
      written: false,
      storedStartedId: '1700000000500-0',
    });
    expect(await stored()).toMatchObject({ version: '2.0.0', startedId: '1700000000500-0' });
  });

  it('lets a newer deployment replace an older one, comparing ids as numbers', async () => {
    await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', '999999999999-9'));
    // Longer millisecond part: newer, though "1…" sorts before "9…" as text.
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('1.1.0', '1000000000000-0')),
    ).toEqual({ written: true });
    // Same millisecond, greater sequence.
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('1.2.0', '1000000000000-10')),
    ).toEqual({ written: true });
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('1.1.5', '1000000000000-9')),
    ).toMatchObject({ written: false });
    expect(await stored()).toMatchObject({ version: '1.2.0' });
  });

  it('writes the same deployment again (a redelivery)', async () => {
    await writeRegistryEntry(client, key, 'billing-api', entry('2.0.0', '1700000000500-0'));
    expect(
      await writeRegistryEntry(client, key, 'billing-api', entry('2.0.0', '1700000000500-0')),
    ).toEqual({ written: true });
  });

  it('counts a stored value without startedId, or an unreadable one, as the oldest', async () => {
    await client.hset(key, 'billing-api', JSON.stringify({ version: '0.9.0', healthy: true }));
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', '1-0'))).toEqual({
      written: true,
    });
    await client.hset(key, 'billing-api', 'not json');
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.1.0', '2-0'))).toEqual({
      written: true,
    });
    await client.hset(
      key,
      'billing-api',
      JSON.stringify({ version: '1.2.0', startedId: 'garbage' }),
    );
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.3.0', '3-0'))).toEqual({
      written: true,
    });
  });

  it('refuses a write without startedId (an older writer) over one that has it', async () => {
    await writeRegistryEntry(client, key, 'billing-api', entry('2.0.0', '5-0'));
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', null))).toEqual({
      written: false,
      storedStartedId: '5-0',
    });
    await client.hdel(key, 'billing-api');
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', null))).toEqual({
      written: true,
    });
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.0.1', null))).toEqual({
      written: true,
    });
  });

  it('touches only its own service', async () => {
    await writeRegistryEntry(client, key, 'auth-api', entry('9.0.0', '9-0'));
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', '1-0'))).toEqual({
      written: true,
    });
    expect(await client.hlen(key)).toBe(2);
  });

  it('writes by the script SHA, and again after the server has forgotten the script', async () => {
    await client.config('RESETSTAT');
    await writeRegistryEntry(client, key, 'billing-api', entry('1.0.0', '1-0'));
    await writeRegistryEntry(client, key, 'billing-api', entry('1.1.0', '2-0'));
    // The whole script at most once (this connection's first call), its SHA after that.
    const stats = await client.info('commandstats');
    expect(stats).toMatch(/cmdstat_evalsha:calls=[12],/);
    expect(stats).not.toMatch(/cmdstat_eval:calls=2,/);
    await client.script('FLUSH');
    expect(await writeRegistryEntry(client, key, 'billing-api', entry('1.2.0', '3-0'))).toEqual({
      written: true,
    });
    expect((await stored())?.version).toBe('1.2.0');
  });
});
