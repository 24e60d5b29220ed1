import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config';
import { InvalidEntryError } from '../../errors';
import { RedisService } from '../../redis/redis.service';
import type { HandlerResult, InboundMessage } from '../../streams/handler';
import { StreamConsumerFactory } from '../../streams/stream-consumer.factory';
import { EVENT_TYPES } from '../../streams/topology';
import {
  carriedDeploymentSchema,
  type DependencyChecked,
  validationCompletedSchema,
} from '../../domain/deployment';
import { StreamWorker } from '../stream-worker';
import { checkDependencies } from './dependency-check';

/**
 * Checks a valid deployment's dependencies against the registry of its
 * environment and publishes `dependency:checked`. Invalid requests are
 * acked and skipped (the Notifier reports them).
 */
@Injectable()
export class DependencyWorker extends StreamWorker {
  constructor(
    consumers: StreamConsumerFactory,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly redis: RedisService,
    @InjectPinoLogger(DependencyWorker.name) private readonly logger: PinoLogger,
  ) {
    super('dependency', consumers, config);
  }

  async handle(message: InboundMessage): Promise<HandlerResult> {
    const input = validationCompletedSchema.safeParse(message.envelope.data);
    if (!input.success) {
      throw new InvalidEntryError('validation:completed data does not have the expected shape');
    }
    if (!input.data.valid) {
      return { outcome: 'skipped' };
    }
    const parsed = carriedDeploymentSchema.safeParse(input.data.deployment);
    if (!parsed.success) {
      throw new InvalidEntryError('validation:completed carries no well-formed deployment');
    }
    const deployment = parsed.data;
    // The whole environment's registry in one round trip: cycle detection
    // walks the recorded dependencies of services this deployment never names.
    const registry = await this.redis.client.hgetall(
      this.topology.registryKey(deployment.environment),
    );
    const results = checkDependencies(deployment, registry);
    const output: DependencyChecked = {
      deploymentId: deployment.deploymentId,
      satisfied: results.every((result) => result.status === 'ok'),
      results,
      deployment,
      ...(input.data.startedId !== undefined ? { startedId: input.data.startedId } : {}),
    };
    this.logger.debug(
      {
        event: 'dependencies.checked',
        worker: this.name,
        deploymentId: output.deploymentId,
        satisfied: output.satisfied,
        dependencies: results.length,
      },
      'dependencies checked',
    );
    return {
      outcome: 'ok',
      outputs: [
        { type: EVENT_TYPES.dependencyChecked, data: output, subject: deployment.deploymentId },
      ],
    };
  }
}
