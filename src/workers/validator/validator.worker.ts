import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config';
import { RedisService } from '../../redis/redis.service';
import type { HandlerResult, InboundMessage } from '../../streams/handler';
import { StreamConsumerFactory } from '../../streams/stream-consumer.factory';
import { EVENT_TYPES } from '../../streams/topology';
import type { ValidationCompleted } from '../../domain/deployment';
import { StreamWorker } from '../stream-worker';
import { withinDepth } from './request-shape';
import {
  parseDeploymentStarted,
  validationRulesFromConfig,
  type ValidationRules,
} from './validator.schema';

/** A request with every part the schema checks, for `warmUp`. */
const WARM_UP_REQUEST = {
  deploymentId: 'warm-up',
  service: 'warm-up',
  version: '1.0.0',
  environment: 'staging',
  artifact: 'registry.example.com/warm-up:1.0.0',
  dependencies: [{ service: 'other', version: '^1.0.0' }],
  healthCheck: { url: 'http://warm-up.invalid/health' },
  notify: [{ type: 'webhook', url: 'https://warm-up.invalid/hook' }],
  requestedBy: 'warm-up',
};

/** The deployment id as far as it can be told from a request that may be malformed. */
function claimedDeploymentId(data: unknown, subject: string | undefined): string | null {
  const id =
    data !== null && typeof data === 'object'
      ? (data as { deploymentId?: unknown }).deploymentId
      : undefined;
  if (typeof id === 'string' && id.trim() !== '') {
    return id;
  }
  return subject ?? null;
}

/**
 * Checks each `deployment:started` request and publishes
 * `validation:completed`. An invalid request is an ordinary outcome
 * (`valid: false` with every problem), never a dead letter.
 */
@Injectable()
export class ValidatorWorker extends StreamWorker {
  private readonly rules: ValidationRules;

  constructor(
    consumers: StreamConsumerFactory,
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectPinoLogger(ValidatorWorker.name) private readonly logger: PinoLogger,
    private readonly redis: RedisService,
  ) {
    super('validator', consumers, config);
    this.rules = validationRulesFromConfig(config);
  }

  /**
   * The request schema's parsers, which zod builds on first use, each
   * nested one when an input first reaches it: a request of every part
   * builds them all. The first validation took 10–15 ms, now about 1.7.
   * Its hosts are `.invalid` (RFC 2606), refused or not, never resolved.
   */
  protected override warmUp(): void {
    parseDeploymentStarted(WARM_UP_REQUEST, this.rules);
  }

  async handle(message: InboundMessage): Promise<HandlerResult> {
    const { data, subject, source, id, replayfor } = message.envelope;
    // CloudEvents: the same source and id is the same event, so a producer's
    // retry runs nothing. A dlq replay is meant to run again. The record is
    // written with the output (a mark of the commit), so a crash before the
    // commit leaves none. Two replicas reading the two copies at once can
    // still both run them: the check and the commit are not one step.
    const accepted = this.topology.acceptedKey(source ?? '', id);
    if (replayfor === undefined && (await this.redis.client.exists(accepted)) === 1) {
      this.logger.info(
        {
          event: 'deployment.duplicate_skipped',
          worker: this.name,
          entryId: message.entryId,
          eventId: id,
          source: source ?? null,
        },
        'deployment:started already accepted (same source and id): a producer retry, skipped',
      );
      return { outcome: 'skipped' };
    }
    const result = parseDeploymentStarted(data, this.rules);
    // The entry's own stream id travels on to the registry write (SPEC §1).
    const startedId = message.entryId;
    const output: ValidationCompleted = result.ok
      ? {
          startedId,
          deploymentId: result.value.deploymentId,
          valid: true,
          errors: [],
          deployment: result.value,
        }
      : {
          startedId,
          deploymentId: claimedDeploymentId(data, subject),
          valid: false,
          errors: result.errors,
          // Cut to a depth JSON.stringify can write: the request travels on to the Notifier.
          deployment: withinDepth(data),
        };
    this.logger.debug(
      {
        event: 'deployment.validated',
        worker: this.name,
        deploymentId: output.deploymentId,
        valid: output.valid,
        problems: output.errors.length,
      },
      'deployment validated',
    );
    return {
      outcome: 'ok',
      outputs: [
        {
          type: EVENT_TYPES.validationCompleted,
          data: output,
          ...(output.deploymentId !== null ? { subject: output.deploymentId } : {}),
        },
      ],
      marks: [
        { key: accepted, value: message.entryId, ttlMs: this.config.validation.inputDedupeTtlMs },
      ],
    };
  }
}
