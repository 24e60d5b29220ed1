import type { RedisClient } from '../redis/connection-factory';
import { formatDuration } from '../config';
import { redactText } from '../logging/redact';
import { decodeDeadLetter } from '../streams/dead-letter';
import { EVENT_TYPES, type StreamTopology } from '../streams/topology';
import { EXIT } from './exit-codes';
import { fieldsToObject, streamIdTime } from './one-shot';
import { formatAge, paint, writeJson, writeLine } from './output';
import { type StageReport, describeStage } from './pipeline-stages';
import { nobodyReading } from './nobody-reading';

const POLL_BLOCK_MS = 1000;

/** The `deployment:started` entry a follow starts from. */
export interface FollowTarget {
  /** CloudEvents id of the entry (the root of the causation chain). */
  eventId: string;
  /** Stream entry id: outputs are never older (same Redis clock). */
  entryId: string;
  deploymentId: string;
}

export interface FollowSettings {
  waitMs: number;
  json: boolean;
  /** A consumer idle longer than this counts as not reading (CLAIM_IDLE_MS). */
  idleBoundMs: number;
}

interface FollowResult {
  outcome: 'succeeded' | 'failed' | 'timeout';
  failedStage: string | null;
  reason: string | null;
  /** For a timeout: the stage not seen yet. */
  waitingFor: string;
  stages: StageReport[];
  /** The deployment's trace id, from the first output carrying a `traceparent` (SPEC §8). */
  traceId?: string;
}

/**
 * Follows one deployment through the pipeline, from what is already in the
 * streams on, printing each stage; `publish --wait` and `follow` share it.
 * Returns the exit code: 0 succeeded, 1 failed, 124 timed out.
 */
export async function followAndReport(
  redis: RedisClient,
  topology: StreamTopology,
  target: FollowTarget,
  settings: FollowSettings,
): Promise<number> {
  const startedAt = performance.now();
  if (!settings.json) {
    writeLine(
      paint(`following ${target.deploymentId} (up to ${formatDuration(settings.waitMs)})…`, 'dim'),
    );
  }
  const follow = await followDeployment(redis, topology, target, {
    deadline: startedAt + settings.waitMs,
    onStage: (stage) => {
      if (!settings.json) {
        printStage(stage);
      }
    },
    onTrace: (trace) => {
      if (!settings.json) {
        writeLine(paint(`trace ${trace.traceId}${trace.sampled ? '' : ' (not sampled)'}`, 'dim'));
      }
    },
  });
  const elapsedMs = performance.now() - startedAt;
  const diagnosis =
    follow.outcome === 'timeout'
      ? await nobodyReading(redis, topology, follow.waitingFor, settings.idleBoundMs)
      : undefined;
  const undelivered = follow.stages.at(-1)?.ok === null;
  if (settings.json) {
    writeJson({
      eventId: target.eventId,
      entryId: target.entryId,
      deploymentId: target.deploymentId,
      ...(follow.traceId ? { traceId: follow.traceId } : {}),
      outcome: follow.outcome,
      failedStage: follow.failedStage,
      reason: follow.reason,
      elapsedMs: Math.round(elapsedMs),
      stages: follow.stages,
      ...(follow.outcome === 'timeout' ? { waitingFor: follow.waitingFor } : {}),
      ...(diagnosis ? { diagnosis } : {}),
    });
  } else if (follow.outcome === 'timeout') {
    writeLine(
      paint(
        `timed out after ${formatAge(elapsedMs)} waiting for ${follow.waitingFor}${diagnosis ? `: ${diagnosis}` : ''}`,
        'yellow',
      ),
    );
    writeLine(`pick it up again with: printery-workers follow ${target.deploymentId}`);
  } else {
    const took = formatAge(follow.stages.at(-1)?.elapsedMs ?? elapsedMs);
    writeLine(
      follow.outcome === 'succeeded'
        ? paint(
            `deployment ${target.deploymentId} succeeded in ${took}${undelivered ? ', but its notification did not reach every target (above)' : ''}`,
            undelivered ? 'yellow' : 'green',
          )
        : paint(
            `deployment ${target.deploymentId} failed${follow.failedStage ? ` at ${follow.failedStage}` : ''}${follow.reason ? `: ${redactText(follow.reason)}` : ''} (${took})`,
            'red',
          ),
    );
  }
  return follow.outcome === 'succeeded'
    ? EXIT.ok
    : follow.outcome === 'timeout'
      ? EXIT.waitTimeout
      : EXIT.runtimeFailure;
}

function printStage(stage: StageReport): void {
  const colour = stage.ok === true ? 'green' : stage.ok === false ? 'red' : 'yellow';
  writeLine(
    `${paint(`[+${formatAge(stage.elapsedMs)}]`, 'dim')} ${stage.stage.padEnd(12)} ${paint(stage.summary, colour)}`,
  );
  for (const detail of stage.details) {
    writeLine(`               ${detail}`);
  }
}

/**
 * Reads the pipeline's output streams (and the dead-letter stream) from the
 * `deployment:started` entry on and keeps the entries caused by it or by its
 * descendants (the `causationid` chain), until the `notification:sent` that
 * closes the deployment, a dead letter that ends it, or the deadline.
 * Elapsed times come from the entry ids (Redis's clock), so a deployment
 * picked up later shows the same times as one followed from the start.
 */
async function followDeployment(
  redis: RedisClient,
  topology: StreamTopology,
  target: FollowTarget,
  options: {
    deadline: number;
    onStage: (stage: StageReport) => void;
    onTrace: (trace: { traceId: string; sampled: boolean }) => void;
  },
): Promise<FollowResult> {
  const streams: Record<string, string> = Object.fromEntries(
    [
      EVENT_TYPES.validationCompleted,
      EVENT_TYPES.dependencyChecked,
      EVENT_TYPES.healthChecked,
      EVENT_TYPES.notificationSent,
    ].map((type) => [topology.stream(type), type]),
  );
  const keys = [...Object.keys(streams), topology.deadLetterStream];
  const startMs = streamIdTime(target.entryId);
  const cursors = keys.map(() => String(Math.max(0, startMs - 1)));
  const ours = new Set([target.eventId]);
  const stages: StageReport[] = [];
  let waitingFor = 'validation';
  let traceId: string | undefined;
  while (performance.now() < options.deadline) {
    const block = Math.max(
      1,
      Math.min(POLL_BLOCK_MS, Math.ceil(options.deadline - performance.now())),
    );
    const reply = ((await redis.xread(
      'COUNT',
      100,
      'BLOCK',
      block,
      'STREAMS',
      ...keys,
      ...cursors,
    )) ?? []) as Array<[string, Array<[string, string[]]>]>;
    for (const [key, entries] of reply) {
      const index = keys.indexOf(key);
      for (const [entryId, flat] of entries) {
        cursors[index] = entryId;
        const elapsedMs = Math.max(0, streamIdTime(entryId) - startMs);
        if (key === topology.deadLetterStream) {
          const letter = decodeDeadLetter(flat);
          const original = fieldsToObject(letter.fields);
          if (original.id === undefined || !ours.has(original.id)) {
            continue;
          }
          const stage: StageReport = {
            stage: 'dead letter',
            type: 'dead-letter',
            eventId: original.id,
            ok: false,
            summary: `dead-lettered by ${letter.worker || 'a worker'} (${letter.reason}) after ${letter.deliveryCount} deliveries`,
            details: letter.error ? [redactText(letter.error)] : [],
            elapsedMs,
          };
          stages.push(stage);
          options.onStage(stage);
          return {
            outcome: 'failed',
            failedStage: letter.worker || 'dead letter',
            reason: letter.error || letter.reason,
            waitingFor,
            stages,
            traceId,
          };
        }
        const attrs = fieldsToObject(flat);
        const matches =
          attrs.causationid !== undefined
            ? ours.has(attrs.causationid)
            : attrs.subject === target.deploymentId;
        if (!matches || attrs.id === undefined) {
          continue;
        }
        ours.add(attrs.id);
        const trace = traceId === undefined ? parseTraceparent(attrs.traceparent) : undefined;
        if (trace) {
          traceId = trace.traceId;
          options.onTrace(trace);
        }
        let data: unknown;
        try {
          data = JSON.parse(attrs.data ?? 'null');
        } catch {
          data = null;
        }
        const stage = describeStage(streams[key] ?? '', attrs.id, data, elapsedMs);
        stages.push(stage);
        options.onStage(stage);
        waitingFor = stage.next ?? waitingFor;
        if (stage.final) {
          return {
            outcome: stage.final.outcome,
            failedStage: stage.final.failedStage,
            reason: stage.final.reason,
            waitingFor,
            stages,
            traceId,
          };
        }
      }
    }
  }
  return { outcome: 'timeout', failedStage: null, reason: null, waitingFor, stages, traceId };
}

/** The trace id of a W3C `traceparent`, and whether the trace is sampled (exported). */
function parseTraceparent(
  traceparent: string | undefined,
): { traceId: string; sampled: boolean } | undefined {
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-([\da-f]{2})$/.exec(traceparent ?? '');
  if (!match || /^0+$/.test(match[1] as string)) {
    return undefined;
  }
  return { traceId: match[1] as string, sampled: (parseInt(match[2] as string, 16) & 1) === 1 };
}
