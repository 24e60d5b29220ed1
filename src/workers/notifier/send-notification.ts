import type { Dispatcher } from 'undici';
import { redactUrlPath } from '../../logging/redact';
import type { NotificationSent, NotifyTarget, NotifyTargetResult } from '../../domain/deployment';
import type { HostAllowList } from '../../net/host-allow-list';
import type { EntrySpan } from '../../tracing/tracing';
import { deliver, type RetryPolicy } from './delivery';
import type { DeliveryLedger } from './delivery-ledger';
import type { Notification } from './notification';
import {
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  idempotencyKey,
  signBody,
  slackPayload,
  targetId,
  webhookBody,
} from './payloads';

export interface SendNotificationOptions {
  dispatcher: Dispatcher;
  allowList: HostAllowList;
  policy: RetryPolicy;
  requestTimeoutMs: number;
  webhookSecret: string | undefined;
  /** Webhooks every notification goes to (`NOTIFY_WEBHOOK_URLS`). */
  defaultWebhookUrls: readonly string[];
  ledger: DeliveryLedger;
  signal: AbortSignal;
  /** The entry's span: each request is a client span beneath it. */
  span?: EntrySpan;
  /** Epoch ms by which every target's delivery must be over; see `DeliveryOptions.deadline`. */
  deadline?: number;
  /** Told about each target that was not delivered, for a warning log line. */
  onTargetFailed?: (result: NotifyTargetResult, error: string | null) => void;
  /**
   * Told about every target once its result is known, for the metrics;
   * `previously` when an earlier delivery of this notification settled it.
   */
  onTargetSettled?: (result: NotifyTargetResult, previously: boolean) => void;
  /**
   * Told once per terminal event (within the ledger's TTL), however often it
   * is handled: by the handling whose ledger write marked it, even if that
   * handling fails afterwards (its retry is then not told again).
   */
  onCounted?: () => void;
}

const USER_AGENT = 'printery-workers/notifier';

/** The deployment's targets plus the configured defaults, each (type, URL) once. */
export function notificationTargets(
  notification: Notification,
  defaultWebhookUrls: readonly string[],
): NotifyTarget[] {
  const all: NotifyTarget[] = [
    ...notification.targets,
    ...defaultWebhookUrls.map((url): NotifyTarget => ({ type: 'webhook', url })),
  ];
  const seen = new Set<string>();
  return all.filter((target) => {
    const id = targetId(target);
    if (seen.has(id)) {
      return false;
    }
    seen.add(id);
    return true;
  });
}

/**
 * Delivers one notification to all its targets in parallel and returns the
 * `notification:sent` data. Targets recorded as done for this terminal
 * event (a redelivery) are not contacted again; each newly finished target
 * is recorded before this resolves. Every target is settled before this
 * settles, even when one of them fails.
 *
 * Marks the terminal event counted with the first target result recorded
 * (in that record's round trip), or with a write of its own when nothing
 * is recorded this time, and tells `onCounted` if this call marked it.
 *
 * @throws the first failure, once all targets have settled, when the ledger
 * cannot be read or written (Redis), or the signal aborts.
 */
export async function sendNotification(
  notification: Notification,
  options: SendNotificationOptions,
): Promise<NotificationSent> {
  const targets = notificationTargets(notification, options.defaultWebhookUrls);
  const done = await options.ledger.recorded(notification.terminalEventId);
  // One body per kind, computed once, so every attempt (and the signature) sees the same bytes.
  const bodies = {
    webhook: webhookBody(notification),
    slack: JSON.stringify(slackPayload(notification)),
  };

  let recordedAny = false;
  // allSettled: a failing target (ledger write) must not leave the others running unobserved.
  const settled = await Promise.allSettled(
    targets.map(async (target): Promise<NotifyTargetResult> => {
      const id = targetId(target);
      const previous = done.get(id);
      if (previous) {
        options.onTargetSettled?.(previous, true);
        return previous;
      }
      const body = bodies[target.type];
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        [IDEMPOTENCY_HEADER]: idempotencyKey(notification, target),
      };
      if (target.type === 'webhook' && options.webhookSecret) {
        headers[SIGNATURE_HEADER] = signBody(body, options.webhookSecret);
      }
      const outcome = await deliver(
        { url: target.url, body, headers },
        {
          dispatcher: options.dispatcher,
          allowList: options.allowList,
          policy: options.policy,
          requestTimeoutMs: options.requestTimeoutMs,
          signal: options.signal,
          deadline: options.deadline,
          span: options.span,
          purpose: target.type,
        },
      );
      const result: NotifyTargetResult = {
        type: target.type,
        target: redactUrlPath(target.url),
        status: outcome.status,
        attempts: outcome.attempts,
        ...(outcome.error !== null ? { error: outcome.error } : {}),
      };
      // Counted before the record: the request went out even if recording it fails.
      options.onTargetSettled?.(result, false);
      recordedAny = true;
      if (await options.ledger.record(notification.terminalEventId, id, result)) {
        options.onCounted?.();
      }
      if (outcome.status !== 'delivered') {
        options.onTargetFailed?.(result, outcome.error);
      }
      return result;
    }),
  );
  const rejected = settled.find((entry) => entry.status === 'rejected');
  if (rejected) {
    throw rejected.reason;
  }
  if (!recordedAny && (await options.ledger.countOnce(notification.terminalEventId))) {
    options.onCounted?.();
  }
  const results = settled.map(
    (entry) => (entry as PromiseFulfilledResult<NotifyTargetResult>).value,
  );

  return {
    deploymentId: notification.deploymentId,
    outcome: notification.outcome,
    failedStage: notification.failedStage,
    reason: notification.reason,
    targets: results,
  };
}
