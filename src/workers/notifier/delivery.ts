import type { Dispatcher } from 'undici';
import { redactText } from '../../logging/redact';
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
import type { EntrySpan, RequestPurpose, RequestSpan } from '../../tracing/tracing';

/** What to do after one attempt. */
export type AttemptVerdict = 'delivered' | 'retry' | 'permanent';

/**
 * 2xx delivered; 5xx and 429 worth another try; anything else (4xx, and a
 * 3xx since redirects are never followed) will not get better by retrying.
 */
export function classifyStatus(status: number): AttemptVerdict {
  if (status >= 200 && status < 300) {
    return 'delivered';
  }
  if (status === 429 || status >= 500) {
    return 'retry';
  }
  return 'permanent';
}

/** `Retry-After` in ms (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') {
    return undefined;
  }
  const text = header.trim();
  if (/^\d+$/.test(text)) {
    return Number(text) * 1000;
  }
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface RetryPolicy {
  maxAttempts: number;
  /** First backoff; doubles on each retry. */
  backoffMs: number;
  /** Upper bound of any wait, including one asked for by `Retry-After`. */
  maxDelayMs: number;
}

/** Wait before attempt `attempt + 1`: Retry-After when given, else exponential backoff with jitter. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  if (retryAfterMs !== undefined) {
    return Math.min(retryAfterMs, policy.maxDelayMs);
  }
  const exponential = Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxDelayMs);
  // Half fixed, half random: spreads retries of many targets without ever waiting less than half.
  return Math.round(exponential / 2 + (random() * exponential) / 2);
}

export interface DeliveryRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface DeliveryOutcome {
  status: 'delivered' | 'failed' | 'refused';
  attempts: number;
  /** Last HTTP status, or null when none was received. */
  lastStatus: number | null;
  /** Why it failed; null when delivered. Free of secrets. */
  error: string | null;
}

export interface DeliveryOptions {
  dispatcher: Dispatcher;
  allowList: HostAllowList;
  policy: RetryPolicy;
  requestTimeoutMs: number;
  /** Aborting rejects the delivery with the signal's reason. */
  signal: AbortSignal;
  /**
   * Epoch ms by which the delivery must be over (see `handlerBudgetMs`).
   * Requests are cut at it, and a retry that cannot fit before it is not
   * made: the target is reported failed instead of the handler timing out.
   */
  deadline?: number;
  /** The entry's span: each attempt is a client span beneath it (SPEC §8). */
  span?: EntrySpan;
  /** What the request is for, in its span; `webhook` unless told. */
  purpose?: RequestPurpose;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one notification to one target, retrying network errors, 5xx and
 * 429 with backoff (honouring Retry-After, capped) up to `maxAttempts`. The
 * URL is checked against the allow-list before sending and every resolved
 * address by the dispatcher's lookup; a refusal is final. With a
 * `deadline`, a retry (its wait plus a full request timeout) that would end
 * after it is not made and the target is reported failed.
 */
export async function deliver(
  target: DeliveryRequest,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  const { policy, signal } = options;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const check = options.allowList.checkUrl(target.url);
  if (!check.allowed) {
    return { status: 'refused', attempts: 0, lastStatus: null, error: check.reason };
  }
  let lastStatus: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt += 1) {
    signal.throwIfAborted();
    const requestTimeoutMs = Math.max(
      1,
      Math.min(options.requestTimeoutMs, Math.floor(deadline - Date.now())),
    );
    const span = (options.span ?? NOOP_ENTRY_SPAN).startRequest(
      'POST',
      target.url,
      options.purpose ?? 'webhook',
      attempt,
    );
    const sent = await postOnce(target, options, requestTimeoutMs, span);
    let retryAfterMs: number | undefined;
    if (sent.kind === 'refused') {
      return { status: 'refused', attempts: attempt, lastStatus, error: sent.error };
    }
    if (sent.kind === 'error') {
      lastStatus = null;
      error = sent.error;
    } else {
      lastStatus = sent.status;
      retryAfterMs = sent.retryAfterMs;
      const verdict = classifyStatus(sent.status);
      if (verdict === 'delivered') {
        return { status: 'delivered', attempts: attempt, lastStatus, error: null };
      }
      error = `status ${sent.status}`;
      if (verdict === 'permanent') {
        return { status: 'failed', attempts: attempt, lastStatus, error };
      }
    }
    if (attempt < policy.maxAttempts) {
      const delayMs = retryDelayMs(attempt, policy, retryAfterMs);
      if (Date.now() + delayMs + options.requestTimeoutMs > deadline) {
        error = `delivery budget ran out after ${attempt} attempt${attempt === 1 ? '' : 's'} (last: ${error})`;
        return { status: 'failed', attempts: attempt, lastStatus, error };
      }
      await abortableSleep(delayMs, signal);
    }
  }
  return { status: 'failed', attempts: policy.maxAttempts, lastStatus, error };
}

type Sent =
  | { kind: 'answered'; status: number; retryAfterMs: number | undefined }
  | { kind: 'refused'; error: string }
  | { kind: 'error'; error: string };

/** One POST, told to its client span; the span ends whatever happens. */
async function postOnce(
  target: DeliveryRequest,
  options: DeliveryOptions,
  requestTimeoutMs: number,
  span: RequestSpan,
): Promise<Sent> {
  const { signal } = options;
  const timeout = new RequestDeadline(signal, requestTimeoutMs);
  try {
    const response = await undici().request(target.url, {
      method: 'POST',
      dispatcher: options.dispatcher,
      body: target.body,
      headers: target.headers,
      signal: timeout.signal,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    });
    span.answered(response.statusCode);
    const header = response.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
    try {
      await response.body.dump({ limit: MAX_RESPONSE_BYTES });
    } catch {
      // The status decides; an unread body only costs the connection.
    }
    return { kind: 'answered', status: response.statusCode, retryAfterMs };
  } catch (caught) {
    if (signal.aborted) {
      span.failed('aborted', 'delivery aborted (handler timeout or stop deadline)');
      signal.throwIfAborted();
    }
    const refused = findHostRefused(caught);
    if (refused) {
      span.failed('host_refused', refused.message);
      return { kind: 'refused', error: refused.message };
    }
    const error = timeout.timedOut
      ? `no answer within ${requestTimeoutMs}ms`
      : redactText(describeHttpError(caught));
    span.failed(timeout.timedOut ? 'timeout' : httpErrorType(caught), error);
    return { kind: 'error', error };
  } finally {
    timeout.done();
    span.end();
  }
}
