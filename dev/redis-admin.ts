import Redis from 'ioredis';

/**
 * One command to the redis-server (or sentinel) on loopback `port`, on a
 * short-lived connection that neither retries nor queues: the topology
 * harnesses poll nodes that may be starting, failing over or just killed.
 */
export async function askNode(port: number, ...args: Array<string | number>): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [command = '', ...rest] = args.map(String);
    return await client.call(command, ...rest);
  } finally {
    client.disconnect();
  }
}

/** A `field:value` line of an INFO (or CLUSTER INFO) reply. */
export function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * Polls `check` until it is true, at most `timeoutMs`; a check that throws
 * (a node still starting or just killed) counts as not yet. Throws
 * `message` with the last error seen when time runs out.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) {
        return;
      }
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`${message} within ${timeoutMs} ms${last}`);
}
