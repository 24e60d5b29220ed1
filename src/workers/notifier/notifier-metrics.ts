import type { Counter } from 'prom-client';
import { NOTIFY_TYPES, type NotifyTargetResult } from '../../domain/deployment';
import type { Notification } from './notification';

/** `result` values of printery_notifications_total (SPEC §6), one per target of a notification. */
const NOTIFICATION_RESULTS = ['delivered', 'failed', 'deduplicated'] as const;
type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];

/** `failed_stage` values of printery_deployments_total; `none` goes with `succeeded`. */
type FailedStageLabel = 'validation' | 'dependency' | 'health' | 'none';

/** The outcome × failed_stage pairs a deployment can end in. */
const DEPLOYMENT_LABELS: ReadonlyArray<{
  outcome: Notification['outcome'];
  failed_stage: FailedStageLabel;
}> = [
  { outcome: 'succeeded', failed_stage: 'none' },
  { outcome: 'failed', failed_stage: 'validation' },
  { outcome: 'failed', failed_stage: 'dependency' },
  { outcome: 'failed', failed_stage: 'health' },
];

/** printery_deployments_total and printery_notifications_total, as the Notifier counts them. */
export class NotifierMetrics {
  constructor(
    private readonly deployments: Counter,
    private readonly notifications: Counter,
  ) {}

  /**
   * Every label combination at 0, so that the first failure of a process is
   * an increase Prometheus can see (a series born at 1 has none).
   */
  seed(): void {
    for (const labels of DEPLOYMENT_LABELS) {
      this.deployments.inc(labels, 0);
    }
    for (const type of NOTIFY_TYPES) {
      for (const result of NOTIFICATION_RESULTS) {
        this.notifications.inc({ type, result }, 0);
      }
    }
  }

  /** One target settled: sent now (delivered or not), or settled by an earlier delivery. */
  target(target: NotifyTargetResult, previously: boolean): void {
    const result: NotificationResult = previously
      ? 'deduplicated'
      : target.status === 'delivered'
        ? 'delivered'
        : 'failed';
    this.notifications.inc({ type: target.type, result });
  }

  /** One deployment reached its terminal outcome; call once per terminal event. */
  deployment(notification: Pick<Notification, 'outcome' | 'failedStage'>): void {
    this.deployments.inc({
      outcome: notification.outcome,
      failed_stage: notification.failedStage ?? 'none',
    });
  }
}
