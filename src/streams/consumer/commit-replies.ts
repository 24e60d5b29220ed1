import type { CommitSlot } from './commit-layout';
import { ConnectionLostError } from './redis-wait';

/** A pipeline's replies as ioredis gives them: per command, its error or its reply. */
export type PipelineReplies = Array<[Error | null, unknown]>;

/** What the replies of a pipeline holding one MULTI…EXEC say about it. */
export type ExecReading =
  /** EXEC ran: `results` line up with the pipeline without its MULTI. */
  | { kind: 'applied'; results: unknown[] }
  /** Redis refused commands at queue time and discarded the MULTI: nothing was applied. */
  | { kind: 'discarded'; error: Error }
  /** Not applied, or not known to be (the connection was lost after EXEC was sent). */
  | { kind: 'unknown'; error: Error };

/** Reads the EXEC reply at `execIndex` of `replies`. */
export function readExec(
  replies: PipelineReplies | null | undefined,
  execIndex: number,
): ExecReading {
  const exec = replies?.[execIndex];
  if (!replies || !exec) {
    return { kind: 'unknown', error: new ConnectionLostError('no EXEC reply') };
  }
  const [execError, results] = exec;
  if (execError) {
    // Only Redis's own EXECABORT proves nothing was applied. Any other
    // error leaves it unknown: every entry goes through the XPENDING check
    // of the committer.
    return execError.message.startsWith('EXECABORT')
      ? { kind: 'discarded', error: execError }
      : { kind: 'unknown', error: execError };
  }
  if (!Array.isArray(results)) {
    return { kind: 'unknown', error: new ConnectionLostError('EXEC returned no reply') };
  }
  return { kind: 'applied', results };
}

/**
 * The first of the entry's commands that failed inside an applied EXEC: a
 * write, else its stream's XACK. A runtime error inside MULTI does not roll
 * the rest back, so the entry is still committed.
 */
export function failedInside(results: readonly unknown[], slot: CommitSlot): Error | undefined {
  // EXEC's array lines up with the pipeline without its MULTI.
  const first = slot.first - 1;
  for (let at = first; at < first + slot.written; at += 1) {
    const reply = results[at];
    if (reply instanceof Error) {
      return reply;
    }
  }
  const ack = results[slot.ackAt - 1];
  return ack instanceof Error ? ack : undefined;
}

/** The error with which Redis refused one of the entry's commands at queue time, if it did. */
export function refusal(replies: PipelineReplies, slot: CommitSlot): Error | undefined {
  return firstError(replies, slot.first, slot.written) ?? firstError(replies, slot.ackAt, 1);
}

/** A discarded batch split by cause: entries Redis refused, with the refusal, and the others. */
export interface AbortedSplit<T> {
  refused: Array<{ item: T; error: Error }>;
  /** Refused nothing themselves: to be sent again in a new MULTI. */
  innocent: T[];
}

/**
 * Splits a batch whose MULTI was discarded (EXECABORT). Undefined when no
 * entry's own command was refused (e.g. MULTI itself was): nothing to single
 * out, so every entry fails alike with the EXECABORT.
 */
export function splitDiscarded<T extends CommitSlot>(
  batch: readonly T[],
  replies: PipelineReplies,
): AbortedSplit<T> | undefined {
  const split: AbortedSplit<T> = { refused: [], innocent: [] };
  for (const item of batch) {
    const error = refusal(replies, item);
    if (error) {
      split.refused.push({ item, error });
    } else {
      split.innocent.push(item);
    }
  }
  return split.refused.length === 0 ? undefined : split;
}

function firstError(replies: PipelineReplies, from: number, count: number): Error | undefined {
  for (let at = from; at < from + count; at += 1) {
    const error = replies[at]?.[0];
    if (error) {
      return error;
    }
  }
  return undefined;
}
