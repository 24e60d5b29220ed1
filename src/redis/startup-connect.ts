import { StartupError } from '../errors';
import type { ProcessLifecycle } from '../lifecycle/process-lifecycle.service';
import { startupAttempt } from '../lifecycle/startup-attempt';
import { redactText } from '../logging/redact';
import { isAuthError } from './connection-checks';
import { isCluster, type RedisClient } from './connection-factory';

/**
 * Longest one attempt may wait for the connection to come up: the TCP
 * connect (connectTimeout, 5 s) plus the handshake, which a Redis that
 * answers at all finishes in milliseconds.
 */
const CONNECT_ATTEMPT_MS = 8_000;
/** Shortest bound of an attempt, so a small STARTUP_TIMEOUT_MS still lets a slow TLS handshake through. */
const MIN_ATTEMPT_MS = 2_000;

/** What the start-up connect needs from the service that owns the connection. */
export interface StartupConnect {
  client: RedisClient;
  startupTimeoutMs: number;
  lifecycle: ProcessLifecycle | undefined;
  /** Checks made once the connection is ready (PING, the selected db). */
  verify: () => Promise<void>;
  /** The error the connection last emitted (the cause behind "Connection is closed"), cleared by `undefined`. */
  lastError: { get(): string | undefined; clear(): void };
  /** A refusal of the credentials in an operator's words. */
  describeAuthError: (cause: string) => string;
  onFailed: (attempt: number, reason: string, retryInMs: number | undefined) => void;
  onConnected: (attempt: number) => void;
  /** "Redis at …": the display name for the final error. */
  display: string;
}

/** An attempt that waited its bound without the connection coming up. */
class NoReplyError extends Error {}

/**
 * Connects at start-up, retrying until STARTUP_TIMEOUT_MS. ioredis retries
 * by itself (retryStrategy, the same backoff as at run time) once connect()
 * has been called; each attempt here waits for its outcome: ready (then the
 * checks), or the next failure ('reconnecting'). The connection is never
 * disconnected between attempts: disconnect() marks it closed on purpose,
 * and on a socket that had already closed that mark outlived the next
 * successful connect, so the first outage at run time ended the connection
 * for good instead of reconnecting.
 *
 * An attempt is bounded too: a server that accepts the connection and
 * never answers would otherwise hold start-up for good, and a SIGTERM
 * with it. Its socket is then destroyed, which ioredis takes as a lost
 * connection and retries.
 */
export async function connectAtStartup(ctx: StartupConnect): Promise<void> {
  const { client } = ctx;
  const deadline = Date.now() + ctx.startupTimeoutMs;
  let lastError = 'unknown error';
  for (let attempt = 1; ; attempt += 1) {
    const left = deadline - Date.now();
    if (attempt > 1 && left <= 0) {
      break;
    }
    ctx.lastError.clear();
    let retryInMs: number | undefined;
    const waiting = untilReady(client);
    try {
      await startupAttempt(
        (async () => {
          await waiting.done;
          await ctx.verify();
        })(),
        Math.max(MIN_ATTEMPT_MS, Math.min(CONNECT_ATTEMPT_MS, left)),
        ctx.lifecycle,
        (ms) => new NoReplyError(`no reply within ${ms}ms`),
      );
      ctx.onConnected(attempt);
      return;
    } catch (error) {
      waiting.cancel();
      if (error instanceof StartupError) {
        client.disconnect();
        throw error;
      }
      if (error instanceof RetryingError) {
        retryInMs = error.retryInMs;
      }
      // The cause this attempt's connection reported, if any: a timeout
      // while the sentinels refuse is theirs, not a silent server's. An
      // attempt that only waited out ioredis's next retry (no error of its
      // own) leaves the earlier cause standing.
      const cause = ctx.lastError.get();
      const onlyWaited = error instanceof NoReplyError && cause === undefined && attempt > 1;
      if (!onlyWaited) {
        lastError = redactText(cause ?? (error as Error).message);
      }
      if (isAuthError(lastError)) {
        // A password does not get better by waiting: refuse at once (exit 1).
        client.disconnect();
        throw new StartupError(ctx.describeAuthError(lastError));
      }
      if (error instanceof NoReplyError) {
        retryInMs = await dropSockets(client, ctx.lifecycle);
      }
      ctx.onFailed(attempt, lastError, retryInMs);
    }
  }
  client.disconnect();
  throw new StartupError(
    `${ctx.display} is unreachable after ${ctx.startupTimeoutMs}ms (STARTUP_TIMEOUT_MS): ${lastError}`,
  );
}

/** The connection failed again; ioredis retries in `retryInMs`. */
class RetryingError extends Error {
  constructor(readonly retryInMs: number | undefined) {
    super('the connection closed');
  }
}

/** A wait for the connection's next outcome; `cancel` removes its listeners (an attempt that timed out). */
interface Waiting {
  done: Promise<void>;
  cancel: () => void;
}

/**
 * Resolves when `client` is ready, connecting it first if nothing drives it
 * yet (never connected, or ended); rejects at its next failed attempt:
 * 'reconnecting', 'end', or, while a Sentinel connection is still looking
 * for its master, the connector's "All sentinels are unreachable" (its
 * retries happen inside one connect, with no 'reconnecting').
 */
function untilReady(client: RedisClient): Waiting {
  if (client.status === 'ready') {
    return { done: Promise.resolve(), cancel: () => undefined };
  }
  let cancel = (): void => undefined;
  const done = new Promise<void>((resolve, reject) => {
    const failed = (retryInMs: number | undefined): void => {
      cancel();
      reject(new RetryingError(retryInMs));
    };
    const onReady = (): void => {
      cancel();
      resolve();
    };
    const onRetry = (delay: unknown): void => failed(typeof delay === 'number' ? delay : undefined);
    const onEnd = (): void => failed(undefined);
    const onError = (error: Error): void => {
      const sentinels = SENTINELS_UNREACHABLE.exec(error.message);
      if (sentinels) {
        failed(sentinels[1] === undefined ? undefined : Number(sentinels[1]));
      }
    };
    cancel = () => {
      client.off('ready', onReady);
      client.off('reconnecting', onRetry);
      client.off('end', onEnd);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('reconnecting', onRetry);
    client.on('end', onEnd);
    client.on('error', onError);
    if (client.status === 'wait' || client.status === 'end') {
      // The failure shows as 'end' (no retry strategy) or 'reconnecting'.
      client.connect().catch(() => undefined);
    }
  });
  return { done, cancel: () => cancel() };
}

/** ioredis's SentinelConnector, between two rounds over the sentinels (with the delay when it retries). */
const SENTINELS_UNREACHABLE =
  /^All sentinels are unreachable(?:\. Retrying from scratch after (\d+)ms)?/;

/**
 * Ends the sockets of an attempt that got no reply, without disconnect():
 * ioredis sees a lost connection and retries it. Waits (briefly) for that
 * 'reconnecting', so it does not count as the next attempt's failure, and
 * returns its delay. A socket not yet opened (a sentinel still being
 * asked) has nothing to end; the attempt after waits on it again.
 */
async function dropSockets(
  client: RedisClient,
  lifecycle: ProcessLifecycle | undefined,
): Promise<number | undefined> {
  const waiting = untilReady(client);
  const retried = waiting.done.catch((retry: unknown) => retry);
  const connections = isCluster(client) ? client.nodes('all') : [client];
  for (const connection of connections) {
    connection.stream?.destroy();
  }
  try {
    const outcome = await startupAttempt(retried, 1000, lifecycle, () => new NoReplyError());
    return outcome instanceof RetryingError ? outcome.retryInMs : undefined;
  } catch (error) {
    if (error instanceof StartupError) {
      client.disconnect();
      throw error;
    }
    return undefined;
  } finally {
    waiting.cancel();
  }
}
