import { InvalidEntryError } from '../../errors';
import { EVENT_TYPES, type EventType } from '../../streams/topology';
import {
  type FailedStage,
  NOTIFY_TYPES,
  type NotifyTarget,
  dependencyCheckedSchema,
  healthCheckedSchema,
  validationCompletedSchema,
} from '../../domain/deployment';

/** One deployment outcome to announce; built from the terminal event that ended its pipeline. */
export interface Notification {
  terminalEventId: string;
  terminalEventType: EventType;
  occurredAt: string | null;
  deploymentId: string | null;
  outcome: 'succeeded' | 'failed';
  failedStage: FailedStage | null;
  reason: string | null;
  service: string | null;
  version: string | null;
  environment: string | null;
  /** The stage's own account: validation errors, dependency results or probe figures. */
  details: unknown;
  /** The deployment's own targets, as requested (not yet checked against the allow-list). */
  targets: NotifyTarget[];
}

const MAX_REASON_ITEMS = 5;

function summarise(items: string[]): string {
  const shown = items.slice(0, MAX_REASON_ITEMS).join('; ');
  const more = items.length - MAX_REASON_ITEMS;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

function stringField(source: unknown, key: string): string | null {
  const value =
    source !== null && typeof source === 'object'
      ? (source as Record<string, unknown>)[key]
      : undefined;
  return typeof value === 'string' ? value : null;
}

/**
 * Targets a (possibly invalid) deployment asks for. Entries of unknown type
 * or without a URL are dropped; the URLs are checked against the allow-list
 * later, before anything is sent.
 */
function requestedTargets(deployment: unknown): NotifyTarget[] {
  const notify =
    deployment !== null && typeof deployment === 'object'
      ? (deployment as { notify?: unknown }).notify
      : undefined;
  if (!Array.isArray(notify)) {
    return [];
  }
  return notify.flatMap((item: unknown): NotifyTarget[] => {
    const type = stringField(item, 'type');
    const url = stringField(item, 'url');
    return type && url && (NOTIFY_TYPES as readonly string[]).includes(type)
      ? [{ type: type as NotifyTarget['type'], url }]
      : [];
  });
}

function parsed<T>(result: { success: true; data: T } | { success: false }, eventType: string): T {
  if (!result.success) {
    throw new InvalidEntryError(`${eventType} data does not have the expected shape`);
  }
  return result.data;
}

/**
 * The notification a terminal event calls for, or undefined when the event
 * is not terminal (a valid validation, a satisfied dependency check).
 *
 * @throws InvalidEntryError when the data is not the shape its stream promises.
 */
export function notificationFor(
  eventType: EventType,
  envelope: { id: string; time?: string; data: unknown },
): Notification | undefined {
  const base = {
    terminalEventId: envelope.id,
    terminalEventType: eventType,
    occurredAt: envelope.time ?? null,
  };
  const about = (deployment: unknown) => ({
    service: stringField(deployment, 'service'),
    version: stringField(deployment, 'version'),
    environment: stringField(deployment, 'environment'),
    targets: requestedTargets(deployment),
  });
  switch (eventType) {
    case EVENT_TYPES.validationCompleted: {
      const data = parsed(validationCompletedSchema.safeParse(envelope.data), eventType);
      if (data.valid) {
        return undefined;
      }
      return {
        ...base,
        ...about(data.deployment),
        deploymentId: data.deploymentId,
        outcome: 'failed',
        failedStage: 'validation',
        reason: `invalid request: ${summarise(data.errors.map((e) => `${e.path} ${e.message}`))}`,
        details: { errors: data.errors },
      };
    }
    case EVENT_TYPES.dependencyChecked: {
      const data = parsed(dependencyCheckedSchema.safeParse(envelope.data), eventType);
      if (data.satisfied) {
        return undefined;
      }
      const failed = data.results.filter((r) => r.status !== 'ok');
      return {
        ...base,
        ...about(data.deployment),
        deploymentId: data.deploymentId,
        outcome: 'failed',
        failedStage: 'dependency',
        reason: `dependencies not satisfied: ${summarise(
          failed.map((r) => `${r.service} ${r.status}${r.reason ? ` (${r.reason})` : ''}`),
        )}`,
        details: { results: data.results },
      };
    }
    case EVENT_TYPES.healthChecked: {
      const data = parsed(healthCheckedSchema.safeParse(envelope.data), eventType);
      const figures = {
        attempts: data.attempts,
        lastStatus: data.lastStatus,
        lastError: data.lastError,
        durationMs: data.durationMs,
      };
      return {
        ...base,
        ...about(data.deployment),
        deploymentId: data.deploymentId,
        outcome: data.healthy ? 'succeeded' : 'failed',
        failedStage: data.healthy ? null : 'health',
        reason: data.healthy
          ? null
          : `not healthy after ${data.attempts} attempt${data.attempts === 1 ? '' : 's'}: ${data.lastError ?? 'no answer'}`,
        details: figures,
      };
    }
    case EVENT_TYPES.deploymentStarted:
    case EVENT_TYPES.notificationSent:
      return undefined;
  }
}
