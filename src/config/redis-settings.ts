import {
  bad,
  boolean,
  duration,
  nonEmpty,
  nonEmptyString,
  ok,
  type Parsed,
  toList,
} from './parsers';
import type { SettingDef } from './settings';

/** `redis.*` of AppConfig: where Redis is and how to log in (SPEC §2 "Redis topologies"). */
export interface RedisConfig {
  /** Standalone only: redis:// or rediss:// with optional user, password and db. */
  url: string;
  startupTimeoutMs: number;
  /** Sentinel: the sentinels' `host:port`, empty when not in Sentinel mode. */
  sentinels: string[];
  /** Sentinel: the master name the sentinels monitor. */
  sentinelMaster: string | undefined;
  /** Sentinel: the sentinels' own password (not the data nodes'). */
  sentinelPassword: string | undefined;
  /** Cluster: seed nodes' `host:port`, empty when not in Cluster mode. */
  clusterNodes: string[];
  /** The data nodes' ACL user in every topology; wins over the URL's. */
  username: string | undefined;
  /** The data nodes' password in every topology; wins over the URL's. */
  password: string | undefined;
  /** TLS to sentinels and data nodes (Sentinel and Cluster; standalone uses rediss://). */
  tls: boolean;
}

/** One `host:port`: a name, an IPv4 address or a bracketed IPv6 address, and a port 1–65535. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return undefined;
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

const hostPortList =
  (example: string) =>
  (raw: unknown): Parsed => {
    const list = toList(raw);
    const expected = `a comma list of host:port, e.g. ${example}`;
    if (!list || list.length === 0) {
      return bad(expected);
    }
    const wrong = list.filter((item) => parseHostPort(item) === undefined);
    return wrong.length === 0 ? ok(list) : bad(expected);
  };

const redisUrl = (raw: unknown): Parsed => {
  const expected =
    'a URL like redis://host:6379/0 (user and password allowed), or rediss://… for TLS';
  if (typeof raw !== 'string') {
    return bad(expected);
  }
  try {
    const url = new URL(raw.trim());
    const db = url.pathname.replace(/^\//, '');
    if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
      return bad(expected);
    }
    if (db !== '' && !/^\d+$/.test(db)) {
      return bad(expected);
    }
    return ok(raw.trim());
  } catch {
    return bad(expected);
  }
};

export const DEFAULT_REDIS_URL = 'redis://localhost:6379';

export const REDIS_SETTINGS: readonly SettingDef[] = [
  {
    path: 'redis.url',
    env: 'REDIS_URL',
    flag: 'redis-url',
    default: DEFAULT_REDIS_URL,
    parse: redisUrl,
    secret: true,
  },
  {
    path: 'redis.startupTimeoutMs',
    env: 'STARTUP_TIMEOUT_MS',
    default: 30_000,
    parse: duration(0),
  },
  {
    path: 'redis.sentinels',
    env: 'REDIS_SENTINELS',
    flag: 'redis-sentinels',
    default: [],
    parse: hostPortList('sentinel-1:26379,sentinel-2:26379,sentinel-3:26379'),
  },
  {
    path: 'redis.sentinelMaster',
    env: 'REDIS_SENTINEL_MASTER',
    flag: 'redis-sentinel-master',
    default: undefined,
    parse: nonEmpty('the master name the sentinels monitor, without spaces (e.g. mymaster)'),
  },
  {
    path: 'redis.sentinelPassword',
    env: 'REDIS_SENTINEL_PASSWORD',
    default: undefined,
    parse: nonEmptyString,
    secret: true,
  },
  {
    path: 'redis.clusterNodes',
    env: 'REDIS_CLUSTER_NODES',
    flag: 'redis-cluster-nodes',
    default: [],
    parse: hostPortList('10.0.0.1:6379,10.0.0.2:6379'),
  },
  {
    path: 'redis.username',
    env: 'REDIS_USERNAME',
    default: undefined,
    parse: nonEmpty('an ACL user name without spaces'),
  },
  {
    path: 'redis.password',
    env: 'REDIS_PASSWORD',
    default: undefined,
    parse: nonEmptyString,
    secret: true,
  },
  { path: 'redis.tls', env: 'REDIS_TLS', default: false, parse: boolean },
];
