import type { RedisConfig } from '../config/redis-settings';

/** A standalone RedisConfig for unit tests, with `overrides`; nothing here connects. */
export function redisConfig(overrides: Partial<RedisConfig> = {}): RedisConfig {
  return {
    url: 'redis://localhost:6379',
    startupTimeoutMs: 1000,
    sentinels: [],
    sentinelMaster: undefined,
    sentinelPassword: undefined,
    clusterNodes: [],
    username: undefined,
    password: undefined,
    tls: false,
    ...overrides,
  };
}
