import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Counter } from 'prom-client';
import type { Agent } from 'undici';
import { APP_CONFIG, type AppConfig } from '../../config';
import { InvalidEntryError } from '../../errors';
import { RedisService } from '../../redis/redis.service';
import type { HandlerResult, InboundMessage } from '../../streams/handler';
import { StreamConsumerFactory } from '../../streams/stream-consumer.factory';
import { EVENT_TYPES } from '../../streams/topology';
import {
  carriedDeploymentSchema,
  dependencyCheckedSchema,
  type DeploymentRequest,
  type HealthChecked,
} from '../../domain/deployment';
import { METRIC } from '../../metrics/metric-names';
import { createGuardedAgent } from '../../net/guarded-agent';
import { handlerBudgetMs } from '../handler-budget';
import { HostAllowList } from '../../net/host-allow-list';
import { registryEntryFor } from '../../domain/registry-entry';
import { StreamWorker } from '../stream-worker';
import { probeHealth } from './health-probe';
import { writeRegistryEntry } from './registry-write';

/**
 * Probes a deployment whose dependencies are satisfied, records it in the
 * registry when healthy, and publishes `health:checked`. Unsatisfied
 * deployments are acked and skipped. The stream runtime keeps the claim
 * alive while a probe runs.
 */
@Injectable()
export class HealthWorker extends StreamWorker implements OnApplicationShutdown {
  private readonly allowList: HostAllowList;
  /** Created by the warm-up (or the first request, if sooner): undici loads then, not at start (src/net/undici.ts). */
  private agent: Agent | undefined;

  constructor(
    consumers: StreamConsumerFactory,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly redis: RedisService,
    @InjectPinoLogger(HealthWorker.name) private readonly logger: PinoLogger,
    @InjectMetric(METRIC.registryWrites) private readonly registryWrites: Counter,
  ) {
    super('health', consumers, config);
    this.allowList = new HostAllowList(config.validation.healthCheckAllowedHosts);
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
    const input = dependencyCheckedSchema.safeParse(message.envelope.data);
    if (!input.success) {
      throw new InvalidEntryError('dependency:checked data does not have the expected shape');
    }
    if (!input.data.satisfied) {
      return { outcome: 'skipped' };
    }
    const parsed = carriedDeploymentSchema.safeParse(input.data.deployment);
    if (!parsed.success) {
      throw new InvalidEntryError('dependency:checked carries no well-formed deployment');
    }
    const deployment = parsed.data;
    const outcome = await probeHealth(deployment.healthCheck, {
      dispatcher: this.httpAgent(),
      allowList: this.allowList,
      caps: this.config.validation.healthCheck,
      signal: message.signal,
      span: message.span,
      budgetMs: handlerBudgetMs(this.config.workers.health.handlerTimeoutMs),
    });
    if (outcome.healthy) {
      await this.record(deployment, input.data.startedId ?? null);
    }
    const output: HealthChecked = {
      deploymentId: deployment.deploymentId,
      ...outcome,
      deployment,
    };
    this.logger.debug(
      {
        event: 'health.checked',
        worker: this.name,
        deploymentId: deployment.deploymentId,
        healthy: outcome.healthy,
        attempts: outcome.attempts,
        durationMs: outcome.durationMs,
      },
      'health checked',
    );
    return {
      outcome: 'ok',
      outputs: [
        { type: EVENT_TYPES.healthChecked, data: output, subject: deployment.deploymentId },
      ],
    };
  }

  /**
   * Records a healthy deployment in the registry unless a newer deployment
   * of the service is there already (requested later, finished earlier).
   */
  private async record(deployment: DeploymentRequest, startedId: string | null): Promise<void> {
    const write = await writeRegistryEntry(
      this.redis.client,
      this.topology.registryKey(deployment.environment),
      deployment.service,
      registryEntryFor(deployment, startedId, new Date()),
    );
    this.registryWrites.inc({ result: write.written ? 'written' : 'refused' });
    if (!write.written) {
      this.logger.info(
        {
          event: 'registry.write_refused',
          worker: this.name,
          deploymentId: deployment.deploymentId,
          service: deployment.service,
          environment: deployment.environment,
          startedId,
          storedStartedId: write.storedStartedId,
        },
        'registry keeps a newer deployment of the service',
      );
    }
  }

  /** After the supervisor has drained the workers: close idle keep-alive sockets. */
  async onApplicationShutdown(): Promise<void> {
    await this.agent?.close();
  }
}
