import { isCluster, type RedisClient } from '../../redis/connection-factory';

/** The connection dropped while a command was in flight: it may or may not have been applied. */
export class ConnectionLostError extends Error {
  override readonly name: string = 'ConnectionLostError';
}

/** No reply within the allowed time although the socket is still open: possibly half-open. */
export class ReplyTimeoutError extends ConnectionLostError {
  override readonly name = 'ReplyTimeoutError';
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until the connection is ready (ioredis keeps reconnecting on its own). */
export function waitReady(connection: RedisClient, signal: AbortSignal): Promise<void> {
  if (connection.status === 'ready') {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const cleanup = (): void => {
      connection.off('ready', onReady);
      connection.off('end', onEnd);
      signal.removeEventListener('abort', onAbort);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onEnd = (): void => {
      cleanup();
      reject(new ConnectionLostError('connection closed for good'));
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason as Error);
    };
    connection.on('ready', onReady);
    connection.once('end', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles with the command's reply, or rejects with ConnectionLostError when
 * the connection closes first (ReplyTimeoutError when `timeoutMs` passes).
 *
 * Why: our connections run with `autoResendUnfulfilledCommands: false`, so
 * ioredis silently drops a command that was on the wire when the socket
 * closed; its promise would otherwise never settle.
 */
export function guard<T>(
  connection: RedisClient,
  command: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onClose = (): void => {
      cleanup();
      reject(new ConnectionLostError('connection closed while a command was in flight'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ReplyTimeoutError(`no reply within ${timeoutMs}ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      connection.off('close', onClose);
    };
    connection.once('close', onClose);
    command.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Answers and client errors that pass by themselves: a loading, failing-over
 * or resharding server (LOADING, READONLY from a demoted master, MOVED/ASK,
 * TRYAGAIN, CLUSTERDOWN, MASTERDOWN), a read unblocked because its server
 * changed role (UNBLOCKED), a busy script, and the Cluster client giving up
 * on a slot whose master is away. Retried with backoff, never fatal.
 */
const PASSING =
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK|UNBLOCKED)\b|^Too many Cluster redirections|^Cluster isn't ready|^Connection is closed|^None of startup nodes is available|^All sentinels are unreachable/;

export function passesByItself(error: unknown): boolean {
  return error instanceof Error && PASSING.test(error.message);
}

/** ioredis's wording for "this connection is not connected right now". */
export const NOT_CONNECTED = /Stream isn't writeable|enableOfflineQueue|Connection is closed/i;
/** ioredis gave a queued command up after its reconnect attempts. */
const RETRIES_USED_UP = /max retries per request/i;

/**
 * Redis could not be reached for this command, whatever the connection:
 * a handler's own Redis call failing so says nothing about its entry.
 */
export function isRedisUnreachable(error: unknown): boolean {
  return (
    error instanceof ConnectionLostError ||
    passesByItself(error) ||
    (error instanceof Error &&
      (NOT_CONNECTED.test(error.message) || RETRIES_USED_UP.test(error.message)))
  );
}

export function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}

export function isBusyGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('BUSYGROUP');
}

/** Waits for `promise` to settle, but no longer than `ms`; never rejects. */
export async function settledWithin(
  promise: Promise<unknown> | undefined,
  ms: number,
): Promise<void> {
  if (!promise) {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Closed for good, asked only after a disconnect() (the drain). A Cluster
 * client may settle on 'close' after its 'end' (ioredis emits both once per
 * node it drops). A client that was waiting to reconnect when it was
 * disconnected has no socket left to close, so ioredis never emits 'end' for
 * it; its reconnect timer is cleared, so it stays as it is: waiting for 'end'
 * there cost a stop 1 s per worker stage while Redis was down.
 */
function hasEnded(connection: RedisClient): boolean {
  const { status } = connection;
  return (
    status === 'end' || (isCluster(connection) ? status === 'close' : status === 'reconnecting')
  );
}

/** Resolves once ioredis has finished closing the connection (or after `ms`). */
export function untilEnded(connection: RedisClient, ms: number): Promise<void> {
  if (hasEnded(connection) || ms <= 0) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    connection.once('end', done);
    function done(): void {
      clearTimeout(timer);
      connection.off('end', done);
      resolve();
    }
  });
}
