import type { Dispatcher } from 'undici';
import { redactText } from '../../logging/redact';
import type { HealthCheckSpec } from '../../domain/deployment';
import {
  abortableSleep,
  describeHttpError,
  findHostRefused,
  httpErrorType,
} from '../../net/guarded-agent';
import type { HostAllowList } from '../../net/host-allow-list';
import { RequestDeadline } from '../../net/request-deadline';
import { undici } from '../../net/undici';
import { NOOP_ENTRY_SPAN } from '../../tracing/noop-tracing';
import type { EntrySpan, RequestSpan } from '../../tracing/tracing';

export interface ProbeCaps {
  maxAttempts: number;
  maxTimeoutMs: number;
  maxIntervalMs: number;
}

export interface ProbeOptions {
  /** Keep-alive agent whose DNS lookups are checked against `allowList`. */
  dispatcher: Dispatcher;
  allowList: HostAllowList;
  caps: ProbeCaps;
  /** Aborts the whole probe (handler timeout, stop deadline); the probe then rejects. */
  signal: AbortSignal;
  /**
   * Total time the probe may take, attempts and intervals included (see
   * `handlerBudgetMs`). An attempt that cannot fit is not started: the probe
   * ends unhealthy instead of being cut off by the handler timeout.
   */
  budgetMs?: number;
  /** Called before each attempt (1-based), e.g. to keep a stream claim alive. */
  onAttempt?: (attempt: number) => void | Promise<void>;
  /** The entry's span: each attempt is a client span beneath it (SPEC §8). */
  span?: EntrySpan;
}

export interface ProbeOutcome {
  healthy: boolean;
  /** Requests made (0 when the URL was refused before any). */
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  durationMs: number;
}

type Attempt =
  | { kind: 'status'; status: number }
  | { kind: 'error'; message: string; errorType: string }
  | { kind: 'refused'; message: string; errorType: 'host_refused' };

const USER_AGENT = 'printery-workers/health-monitor';
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Probes `spec.url` with GET until it answers `expectedStatus`, at most
 * `maxAttempts` times `intervalMs` apart, each attempt bounded by
 * `timeoutMs`; every number is clamped to the configured caps. Redirects
 * are not followed (a 3xx is just an unexpected status), and a host the
 * allow-list refuses, before or after DNS, ends the probe at once. With a
 * `budgetMs`, each attempt's timeout is clamped to what is left of it, and
 * when the next attempt (interval plus timeout) no longer fits the probe
 * ends unhealthy, saying the budget ran out.
 *
 * @throws the abort reason when `options.signal` aborts.
 */
export async function probeHealth(
  spec: HealthCheckSpec,
  options: ProbeOptions,
): Promise<ProbeOutcome> {
  const { caps, signal } = options;
  const maxAttempts = Math.max(1, Math.min(spec.maxAttempts, caps.maxAttempts));
  const timeoutMs = Math.max(1, Math.min(spec.timeoutMs, caps.maxTimeoutMs));
  const intervalMs = Math.max(0, Math.min(spec.intervalMs, caps.maxIntervalMs));
  const started = Date.now();
  const deadline = started + (options.budgetMs ?? Number.POSITIVE_INFINITY);
  let attempts = 0;
  let lastStatus: number | null = null;
  let lastError: string | null = null;
  const done = (healthy: boolean): ProbeOutcome => ({
    healthy,
    attempts,
    lastStatus,
    lastError,
    durationMs: Date.now() - started,
  });

  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    signal.throwIfAborted();
    // Re-checked every attempt: the allow-list is the last word, not the Validator's earlier verdict.
    const check = options.allowList.checkUrl(spec.url);
    if (!check.allowed) {
      lastError = `refused: ${check.reason}`;
      return done(false);
    }
    await options.onAttempt?.(attempt);
    attempts = attempt;
    const attemptTimeoutMs = Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
    const request = (options.span ?? NOOP_ENTRY_SPAN).startRequest(
      'GET',
      spec.url,
      'health_probe',
      attempt,
    );
    const result = await attemptOnce(
      spec.url,
      attemptTimeoutMs,
      options.dispatcher,
      signal,
      request,
    );
    switch (result.kind) {
      case 'refused':
        lastError = `refused: ${result.message}`;
        return done(false);
      case 'error':
        lastError = result.message;
        break;
      case 'status':
        lastStatus = result.status;
        if (result.status === spec.expectedStatus) {
          lastError = null;
          return done(true);
        }
        lastError =
          result.status >= 300 && result.status < 400
            ? `status ${result.status}, expected ${spec.expectedStatus} (redirects are not followed)`
            : `status ${result.status}, expected ${spec.expectedStatus}`;
        break;
    }
    if (attempt < maxAttempts && Date.now() + intervalMs + timeoutMs > deadline) {
      lastError = `health check budget of ${options.budgetMs}ms ran out after ${attempts} attempt${attempts === 1 ? '' : 's'} (last: ${lastError})`;
      return done(false);
    }
    if (attempt < maxAttempts && intervalMs > 0) {
      await abortableSleep(intervalMs, signal);
    }
  }
  return done(false);
}

/** One GET, told to its client span; the span ends whatever happens. */
async function attemptOnce(
  url: string,
  timeoutMs: number,
  dispatcher: Dispatcher,
  signal: AbortSignal,
  span: RequestSpan,
): Promise<Attempt> {
  try {
    const result = await requestOnce(url, timeoutMs, dispatcher, signal);
    if (result.kind === 'status') {
      span.answered(result.status);
    } else {
      span.failed(result.errorType, result.message);
    }
    return result;
  } catch (error) {
    span.failed('aborted', 'probe aborted (handler timeout or stop deadline)');
    throw error;
  } finally {
    span.end();
  }
}

async function requestOnce(
  url: string,
  timeoutMs: number,
  dispatcher: Dispatcher,
  signal: AbortSignal,
): Promise<Attempt> {
  const timeout = new RequestDeadline(signal, timeoutMs);
  try {
    const response = await undici().request(url, {
      method: 'GET',
      dispatcher,
      signal: timeout.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      headers: { 'user-agent': USER_AGENT, accept: '*/*' },
    });
    try {
      // Drain (bounded) so the keep-alive connection can be reused.
      await response.body.dump({
        limit: MAX_BODY_BYTES,
        signal: timeout.signal,
      });
    } catch {
      // The status is already known; undici discards the connection.
      signal.throwIfAborted();
    }
    return { kind: 'status', status: response.statusCode };
  } catch (error) {
    signal.throwIfAborted();
    const refused = findHostRefused(error);
    if (refused) {
      return { kind: 'refused', message: redactText(refused.message), errorType: 'host_refused' };
    }
    if (timeout.timedOut) {
      return { kind: 'error', message: `no answer within ${timeoutMs}ms`, errorType: 'timeout' };
    }
    return {
      kind: 'error',
      message: redactText(describeHttpError(error)),
      errorType: httpErrorType(error),
    };
  } finally {
    timeout.done();
  }
}
