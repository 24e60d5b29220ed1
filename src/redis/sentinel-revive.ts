import type Redis from 'ioredis';

/**
 * Works around a race in ioredis's Sentinel support. After the master is
 * lost, the connection reconnects through the sentinels; when their
 * +switch-master arrives meanwhile, the failover detector of the previous
 * connection closes the connector in the middle of that reconnect, which
 * then fails with "Connection is closed." and leaves the connection in
 * 'end' for good: a worker that stops consuming after a failover while its
 * process looks alive (issue 11). So a Sentinel connection that ends without
 * having been closed on purpose is connected again, with the same backoff.
 * What counts as on purpose: a quit(), or a disconnect() without reconnect.
 */
export function reviveAfterUnplannedEnd(
  client: Redis,
  retryStrategy: (times: number) => number | void | null,
): void {
  let attempts = 0;
  let closedOnPurpose = false;
  const quit = client.quit.bind(client);
  const disconnect = client.disconnect.bind(client);
  // Marked before ioredis clears its own flag on the way to 'end'.
  client.disconnect = (reconnect = false): void => {
    closedOnPurpose ||= !reconnect;
    disconnect(reconnect);
  };
  client.quit = (...args: Parameters<Redis['quit']>) => {
    closedOnPurpose = true;
    return quit(...args);
  };
  client.on('ready', () => {
    attempts = 0;
  });
  client.on('end', () => {
    const delay = closedOnPurpose ? null : retryStrategy((attempts += 1));
    if (typeof delay !== 'number') {
      return;
    }
    setTimeout(() => {
      if (!closedOnPurpose && client.status === 'end') {
        client.connect().catch(() => {
          // Failed again: its 'end' schedules the next attempt.
        });
      }
    }, delay).unref();
  });
}
