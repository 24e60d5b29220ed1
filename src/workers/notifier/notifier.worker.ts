import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Counter } from 'prom-client';
import type { Agent } from 'undici';
import { APP_CONFIG, type AppConfig } from '../../config';
import { METRIC } from '../../metrics/metric-names';
import { RedisService } from '../../redis/redis.service';
import type { HandlerResult, InboundMessage } from '../../streams/handler';
import { StreamConsumerFactory } from '../../streams/stream-consumer.factory';
import { EVENT_TYPES } from '../../streams/topology';
import { createGuardedAgent } from '../../net/guarded-agent';
import { handlerBudgetMs } from '../handler-budget';
import { HostAllowList } from '../../net/host-allow-list';
import { StreamWorker } from '../stream-worker';
import { DeliveryLedger } from './delivery-ledger';
import { notificationFor } from './notification';
import { NotifierMetrics } from './notifier-metrics';
import { sendNotification } from './send-notification';

/** Longest wait between delivery attempts, Retry-After included. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Reads the three terminal streams (in one group), sends one notification
 * per deployment outcome to its targets plus the configured webhooks, logs
 * it, and publishes `notification:sent`. Non-terminal events (a valid
 * validation, a satisfied dependency check) are acked and skipped.
 */
@Injectable()
export class NotifierWorker extends StreamWorker implements OnApplicationShutdown {
  private readonly allowList: HostAllowList;
  /** Created by the warm-up (or the first request, if sooner): undici loads then, not at start (src/net/undici.ts). */
  private agent: Agent | undefined;
  private readonly ledger: DeliveryLedger;
  private readonly metrics: NotifierMetrics;

  constructor(
    consumers: StreamConsumerFactory,
    @Inject(APP_CONFIG) config: AppConfig,
    redis: RedisService,
    @InjectPinoLogger(NotifierWorker.name) private readonly logger: PinoLogger,
    @InjectMetric(METRIC.deployments) deployments: Counter,
    @InjectMetric(METRIC.notifications) notifications: Counter,
  ) {
    super('notifier', consumers, config);
    this.allowList = new HostAllowList(config.validation.notifyAllowedHosts);
    this.ledger = new DeliveryLedger(
      redis.client,
      (id) => this.topology.deliveryKey(id),
      config.notify.dedupeTtlMs,
    );
    this.metrics = new NotifierMetrics(deployments, notifications);
    if (config.supervisor.workers.includes(this.name)) {
      this.metrics.seed();
    }
  }

  /** The HTTP client (undici and its keep-alive agent) before the first request needs it. */
  protected override warmUp(): void {
    this.httpAgent();
  }

  /** The one keep-alive agent of this worker, created on first use. */
  private httpAgent(): Agent {
    return (this.agent ??= createGuardedAgent(this.allowList));
  }

  async handle(message: InboundMessage): Promise<HandlerResult> {
    const notification = notificationFor(message.eventType, message.envelope);
    if (!notification) {
      return { outcome: 'skipped' };
    }
    const { notify } = this.config;
    const deadline = Date.now() + handlerBudgetMs(this.config.workers.notifier.handlerTimeoutMs);
    const sent = await sendNotification(notification, {
      dispatcher: this.httpAgent(),
      allowList: this.allowList,
      policy: {
        maxAttempts: notify.maxAttempts,
        backoffMs: notify.backoffMs,
        maxDelayMs: Math.max(MAX_RETRY_DELAY_MS, notify.backoffMs),
      },
      requestTimeoutMs: notify.requestTimeoutMs,
      webhookSecret: notify.webhookSecret,
      defaultWebhookUrls: notify.webhookUrls,
      ledger: this.ledger,
      signal: message.signal,
      span: message.span,
      deadline,
      onTargetSettled: (result, previously) => this.metrics.target(result, previously),
      // Once per terminal event, not per handling: a redelivery (commit lost,
      // crash before the ack) or a duplicated terminal event is not a second deployment.
      onCounted: () => this.metrics.deployment(notification),
      onTargetFailed: (result, error) =>
        this.logger.warn(
          {
            event: 'notification.target_failed',
            worker: this.name,
            deploymentId: notification.deploymentId,
            terminalEventId: notification.terminalEventId,
            ...result,
            error,
          },
          'notification target not delivered',
        ),
    });
    // A target that was not reached is a failure of its own, not a "sent".
    const undelivered = sent.targets.filter((target) => target.status !== 'delivered').length;
    this.logger[undelivered === 0 ? 'info' : 'warn'](
      {
        event: undelivered === 0 ? 'notification.sent' : 'notification.not_delivered',
        undelivered,
        worker: this.name,
        deploymentId: sent.deploymentId,
        outcome: sent.outcome,
        failedStage: sent.failedStage,
        reason: sent.reason,
        service: notification.service,
        version: notification.version,
        environment: notification.environment,
        terminalEventId: notification.terminalEventId,
        targets: sent.targets,
      },
      undelivered === 0
        ? 'deployment notification sent'
        : 'deployment notification not delivered to every target',
    );
    return {
      outcome: 'ok',
      outputs: [
        {
          type: EVENT_TYPES.notificationSent,
          data: sent,
          ...(sent.deploymentId !== null ? { subject: sent.deploymentId } : {}),
        },
      ],
    };
  }

  /** After the supervisor has drained the workers: close idle keep-alive sockets. */
  async onApplicationShutdown(): Promise<void> {
    await this.agent?.close();
  }
}
