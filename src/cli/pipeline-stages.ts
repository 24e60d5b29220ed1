import { redactText } from '../logging/redact';
import { EVENT_TYPES } from '../streams/topology';
import {
  dependencyCheckedSchema,
  healthCheckedSchema,
  validationCompletedSchema,
} from '../domain/deployment';
import { formatAge } from './output';

/** One stage of a deployment as `publish --wait` reports it. */
export interface StageReport {
  /** validation, dependencies, health, notification, dead letter. */
  stage: string;
  /** Event type it was read from. */
  type: string;
  eventId: string;
  /** true passed, false failed, null neither (e.g. an unreadable event). */
  ok: boolean | null;
  summary: string;
  details: string[];
  elapsedMs: number;
  /** The stage expected next, when this one lets the deployment go on. */
  next?: string;
  /** Set on the event that closes the deployment (`notification:sent`). */
  final?: { outcome: 'succeeded' | 'failed'; failedStage: string | null; reason: string | null };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Turns one pipeline event into the line `publish --wait` prints for it. */
export function describeStage(
  type: string,
  eventId: string,
  data: unknown,
  elapsedMs: number,
): StageReport {
  const base = { type, eventId, elapsedMs: Math.round(elapsedMs) };
  switch (type) {
    case EVENT_TYPES.validationCompleted: {
      const parsed = validationCompletedSchema.safeParse(data);
      if (!parsed.success) {
        return unreadable('validation', base);
      }
      const { valid, errors } = parsed.data;
      return valid
        ? {
            ...base,
            stage: 'validation',
            ok: true,
            summary: 'passed',
            details: [],
            next: 'dependencies',
          }
        : {
            ...base,
            stage: 'validation',
            ok: false,
            summary: `failed with ${plural(errors.length, 'problem')}`,
            details: errors.map((e) => `${e.path}: ${e.message}`),
            next: 'notification',
          };
    }
    case EVENT_TYPES.dependencyChecked: {
      const parsed = dependencyCheckedSchema.safeParse(data);
      if (!parsed.success) {
        return unreadable('dependencies', base);
      }
      const { satisfied, results } = parsed.data;
      const failing = results.filter((r) => r.status !== 'ok');
      return satisfied
        ? {
            ...base,
            stage: 'dependencies',
            ok: true,
            summary: `satisfied (${results.length} ${results.length === 1 ? 'dependency' : 'dependencies'} checked)`,
            details: [],
            next: 'health',
          }
        : {
            ...base,
            stage: 'dependencies',
            ok: false,
            summary: `not satisfied (${failing.length} of ${results.length})`,
            details: failing.map(
              (r) =>
                `${r.service} ${r.required}: ${r.status}${r.found ? ` (found ${r.found})` : ''}${r.reason ? ` - ${r.reason}` : ''}`,
            ),
            next: 'notification',
          };
    }
    case EVENT_TYPES.healthChecked: {
      const parsed = healthCheckedSchema.safeParse(data);
      if (!parsed.success) {
        return unreadable('health', base);
      }
      const h = parsed.data;
      const after = `after ${plural(h.attempts, 'attempt')} in ${formatAge(h.durationMs)}`;
      return h.healthy
        ? {
            ...base,
            stage: 'health',
            ok: true,
            summary: `healthy ${after}`,
            details: [],
            next: 'notification',
          }
        : {
            ...base,
            stage: 'health',
            ok: false,
            summary: `unhealthy ${after}`,
            details: [
              `last status ${h.lastStatus ?? '-'}${h.lastError ? `, last error: ${redactText(h.lastError)}` : ''}`,
            ],
            next: 'notification',
          };
    }
    case EVENT_TYPES.notificationSent: {
      const n = (data ?? {}) as {
        outcome?: unknown;
        failedStage?: unknown;
        reason?: unknown;
        targets?: Array<{
          type?: unknown;
          target?: unknown;
          status?: unknown;
          attempts?: unknown;
          error?: unknown;
        }>;
      };
      const outcome = n.outcome === 'succeeded' ? 'succeeded' : 'failed';
      const targets = Array.isArray(n.targets) ? n.targets : [];
      const delivered = targets.filter((t) => t.status === 'delivered').length;
      return {
        ...base,
        stage: 'notification',
        ok: targets.length === delivered ? true : null,
        summary:
          targets.length === 0
            ? 'logged (no notification targets)'
            : `delivered to ${delivered} of ${plural(targets.length, 'target')}`,
        details: targets
          .filter((t) => t.status !== 'delivered')
          .map(
            (t) =>
              `${String(t.type)} ${String(t.target)}: ${String(t.status)} after ${Number(t.attempts ?? 0)} attempt(s)${typeof t.error === 'string' ? `, last error: ${redactText(t.error)}` : ''}`,
          ),
        final: {
          outcome,
          failedStage: typeof n.failedStage === 'string' ? n.failedStage : null,
          reason: typeof n.reason === 'string' ? redactText(n.reason) : null,
        },
      };
    }
    default:
      return { ...base, stage: type, ok: null, summary: 'unexpected event', details: [] };
  }
}

function unreadable(
  stage: string,
  base: { type: string; eventId: string; elapsedMs: number },
): StageReport {
  return { ...base, stage, ok: null, summary: 'event not readable', details: [] };
}
