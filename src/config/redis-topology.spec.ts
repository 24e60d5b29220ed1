import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { loadConfig, resolveConfig } from './load-config';
import { hashTagOf, prefixPinsSlot, redisTopology } from './redis-topology';

describe('Redis topology settings (SPEC §2)', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'printery-topology-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const problems = (env: NodeJS.ProcessEnv, flags = {}): string[] =>
    resolveConfig({ env, flags, configDir: dir }).problems.map((problem) => problem.text);

  const HASHED = '{materi:events:deployment}';

  describe('when one topology is chosen', () => {
    it('is standalone with nothing set', () => {
      const config = loadConfig({ env: {}, configDir: dir });
      expect(redisTopology(config.redis)).toEqual({
        kind: 'standalone',
        url: 'redis://localhost:6379',
      });
    });

    it('is Sentinel with sentinels and a master name, from variables or flags', () => {
      const config = loadConfig({
        env: { REDIS_SENTINEL_PASSWORD: 'sentinel-pw', REDIS_PASSWORD: 'data-pw' },
        flags: {
          'redis-sentinels': '10.0.0.1:26379, sentinel-2:26380,[::1]:26381',
          'redis-sentinel-master': 'mymaster',
        },
        configDir: dir,
      });
      expect(redisTopology(config.redis)).toEqual({
        kind: 'sentinel',
        master: 'mymaster',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'sentinel-2', port: 26380 },
          { host: '::1', port: 26381 },
        ],
      });
      expect(config.redis.sentinelPassword).toBe('sentinel-pw');
      expect(config.redis.password).toBe('data-pw');
    });

    it('is Cluster with seed nodes and a hash-tagged prefix', () => {
      const config = loadConfig({
        env: { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', STREAM_PREFIX: HASHED },
        configDir: dir,
      });
      expect(redisTopology(config.redis)).toEqual({
        kind: 'cluster',
        nodes: [
          { host: '127.0.0.1', port: 7000 },
          { host: '127.0.0.1', port: 7001 },
        ],
      });
    });

    it('accepts the config file URL (the shipped default) beside Cluster nodes', () => {
      writeFileSync(join(dir, 'default.yaml'), 'redis:\n  url: redis://localhost:6379\n');
      expect(problems({ REDIS_CLUSTER_NODES: 'a:1', STREAM_PREFIX: HASHED })).toEqual([]);
    });

    it('accepts REDIS_TLS with Cluster, and with a rediss:// URL', () => {
      expect(
        problems({ REDIS_CLUSTER_NODES: 'a:1', STREAM_PREFIX: HASHED, REDIS_TLS: 'true' }),
      ).toEqual([]);
      expect(problems({ REDIS_URL: 'rediss://h:6380', REDIS_TLS: 'yes' })).toEqual([]);
    });
  });

  describe('when a value is malformed', () => {
    it.each([
      ['REDIS_SENTINELS', 'sentinel-1', 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379'],
      ['REDIS_SENTINELS', 'a:26379,b:0', 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379'],
      ['REDIS_CLUSTER_NODES', 'a:70000', '10.0.0.1:6379,10.0.0.2:6379'],
      ['REDIS_CLUSTER_NODES', ',', '10.0.0.1:6379,10.0.0.2:6379'],
      ['REDIS_CLUSTER_NODES', 'http://a:1', '10.0.0.1:6379,10.0.0.2:6379'],
    ])('refuses %s=%j, naming it and the accepted form', (name, value, example) => {
      const found = problems({ [name]: value, STREAM_PREFIX: HASHED, REDIS_SENTINEL_MASTER: 'm' });
      expect(found).toContain(
        `${name}: ${JSON.stringify(value)} is not valid; expected a comma list of host:port, e.g. ${example}`,
      );
    });

    it('names the flag when the bad list came from one', () => {
      expect(problems({}, { 'redis-cluster-nodes': 'nowhere' })).toContain(
        '--redis-cluster-nodes: "nowhere" is not valid; expected a comma list of host:port, e.g. 10.0.0.1:6379,10.0.0.2:6379',
      );
    });

    it('masks a password written into a node list', () => {
      const found = problems({ REDIS_CLUSTER_NODES: 'redis://:hunter22@a:1' }).join('\n');
      expect(found).toContain('REDIS_CLUSTER_NODES: "redis://:[REDACTED]@a:1" is not valid');
      expect(found).not.toContain('hunter22');
    });

    it('refuses a master name with spaces and a non-boolean REDIS_TLS', () => {
      expect(
        problems({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_MASTER: 'my master', REDIS_TLS: 'on' }),
      ).toEqual([
        'REDIS_SENTINEL_MASTER: "my master" is not valid; expected the master name the sentinels monitor, without spaces (e.g. mymaster)',
        'REDIS_TLS: "on" is not valid; expected one of true, false, yes, no, 1, 0',
        // The bad master name falls back to none, which is a problem of its own.
        'REDIS_SENTINEL_MASTER: not set although REDIS_SENTINELS is; expected the master name the sentinels monitor (sentinel monitor <name> …), e.g. mymaster',
      ]);
    });

    it('never shows the passwords', () => {
      const report = resolveConfig({
        env: { REDIS_PASSWORD: ' ', REDIS_SENTINEL_PASSWORD: '' },
        configDir: dir,
      });
      expect(report.problems.map((problem) => problem.text)).toEqual([
        'REDIS_PASSWORD: (hidden) is not valid; expected a non-empty string',
      ]);
    });
  });

  describe('when settings of two topologies are mixed', () => {
    const TOPOLOGIES =
      'expected one Redis topology: REDIS_URL (standalone), REDIS_SENTINELS with REDIS_SENTINEL_MASTER (Sentinel), or REDIS_CLUSTER_NODES (Cluster)';

    it('refuses sentinels and cluster nodes together', () => {
      expect(
        problems({
          REDIS_SENTINELS: 'a:1',
          REDIS_SENTINEL_MASTER: 'm',
          REDIS_CLUSTER_NODES: 'b:2',
          STREAM_PREFIX: HASHED,
        }),
      ).toEqual([`REDIS_CLUSTER_NODES: set together with REDIS_SENTINELS; ${TOPOLOGIES}`]);
    });

    it('refuses an explicit REDIS_URL beside cluster nodes or sentinels', () => {
      const credentials =
        " (give the data nodes' credentials with REDIS_USERNAME and REDIS_PASSWORD)";
      expect(
        problems({
          REDIS_URL: 'redis://x:6379',
          REDIS_CLUSTER_NODES: 'b:2',
          STREAM_PREFIX: HASHED,
        }),
      ).toEqual([`REDIS_URL: set together with REDIS_CLUSTER_NODES; ${TOPOLOGIES}${credentials}`]);
      expect(
        problems(
          { REDIS_SENTINEL_MASTER: 'm' },
          { 'redis-url': 'redis://x:6379', 'redis-sentinels': 'a:1' },
        ),
      ).toEqual([`--redis-url: set together with --redis-sentinels; ${TOPOLOGIES}${credentials}`]);
    });

    it('refuses a non-default URL from a config file beside cluster nodes', () => {
      writeFileSync(join(dir, 'default.yaml'), 'redis:\n  url: redis://elsewhere:6379\n');
      expect(problems({ REDIS_CLUSTER_NODES: 'b:2', STREAM_PREFIX: HASHED })).toEqual([
        expect.stringMatching(/^REDIS_URL: set together with REDIS_CLUSTER_NODES; /),
      ]);
    });

    it('refuses sentinels without a master name', () => {
      expect(problems({ REDIS_SENTINELS: 'a:1' })).toEqual([
        'REDIS_SENTINEL_MASTER: not set although REDIS_SENTINELS is; expected the master name the sentinels monitor (sentinel monitor <name> …), e.g. mymaster',
      ]);
    });

    it('refuses a master name or sentinel password without sentinels', () => {
      const expected =
        "set without REDIS_SENTINELS; expected the sentinels' host:port list beside it (Sentinel mode), or neither";
      expect(problems({ REDIS_SENTINEL_MASTER: 'm' })).toEqual([
        `REDIS_SENTINEL_MASTER: ${expected}`,
      ]);
      expect(problems({}, { 'redis-sentinel-master': 'm' })).toEqual([
        `--redis-sentinel-master: ${expected}`,
      ]);
      expect(problems({ REDIS_SENTINEL_PASSWORD: 'pw' })).toEqual([
        `REDIS_SENTINEL_PASSWORD: ${expected}`,
      ]);
    });

    it('refuses REDIS_TLS for a standalone redis:// URL', () => {
      expect(problems({ REDIS_TLS: 'true' })).toEqual([
        'REDIS_TLS: true for a standalone Redis; expected rediss:// in REDIS_URL for TLS to one Redis (REDIS_TLS applies to Sentinel and Cluster)',
      ]);
    });
  });

  describe('in Cluster mode', () => {
    it.each(['materi:events:deployment', 'a{}b{c}', 'open{brace', 'late:}{'])(
      'refuses the prefix %j, which has no hash tag, naming STREAM_PREFIX and an example',
      (prefix) => {
        expect(problems({ REDIS_CLUSTER_NODES: 'a:1', STREAM_PREFIX: prefix })).toEqual([
          `STREAM_PREFIX: ${JSON.stringify(prefix)} has no hash tag; in Cluster mode (REDIS_CLUSTER_NODES) expected a prefix with one, e.g. {materi:events:deployment}, so that every key one MULTI or script touches shares a hash slot`,
        ]);
      },
    );

    it('says the prefix problem concerns every command that uses the streams', () => {
      const report = resolveConfig({ env: { REDIS_CLUSTER_NODES: 'a:1' }, configDir: dir });
      expect(report.problems[0]?.settings).toEqual(['redis', 'streams.prefix']);
    });

    it('reads hash tags as Redis does', () => {
      expect(hashTagOf('{materi}:x')).toBe('materi');
      expect(hashTagOf('team-a:{pipeline}:x')).toBe('pipeline');
      expect(hashTagOf('{}{x}')).toBeUndefined();
      expect(prefixPinsSlot('{p}')).toBe(true);
      expect(calculateSlot('{p}:deployment:started')).toBe(calculateSlot('{p}:dead-letter'));
    });
  });
});
