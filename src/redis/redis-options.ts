import type { RedisOptions } from 'ioredis';

/** Reconnect delay: exponential from 100 ms, capped at 5 s, with jitter so a fleet does not stampede. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (random() * base) / 2);
}

/**
 * ioredis options shared by every connection. The URL itself carries host,
 * port, TLS (`rediss://`), user, password and db; ioredis parses it.
 */
export function baseRedisOptions(connectionName: string): RedisOptions {
  return {
    connectionName,
    lazyConnect: true,
    // Keep reconnecting for as long as the process lives; readiness reports the outage.
    retryStrategy: (times) => reconnectDelay(times),
    // A command issued while disconnected fails fast instead of queueing for minutes.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5000,
    // TCP keep-alive probes after 10 s idle, so a peer that vanished without a
    // FIN (NAT timeout, dead host) is noticed by the kernel, not only by reply timeouts.
    keepAlive: 10_000,
  };
}
