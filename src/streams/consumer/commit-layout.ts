import type { Task } from './task';

/**
 * The commands an entry's writes may use: an ioredis pipeline holding a
 * MULTI, or the batch's script call (commit-script.ts).
 */
export interface CommitWriter {
  xadd(key: string, ...args: Array<string | number>): unknown;
  set(key: string, value: string, px: 'PX', ttlMs: number): unknown;
  /**
   * `xadd(key, ...options, ...fields)` for a sink that can send the field
   * names once per batch (the script call); a MULTI has no such shorthand.
   * `options` is the same array from one call to the next.
   */
  xaddFields?(key: string, options: readonly string[], fields: readonly string[]): unknown;
}

/** Where a batch is laid out: MULTI, the writes, the XACKs, EXEC. */
export interface CommitSink extends CommitWriter {
  /** Commands laid out so far, MULTI included. */
  readonly length: number;
  xack(key: string, group: string, ...ids: string[]): unknown;
  call(command: 'MULTI' | 'EXEC'): unknown;
}

/** Writes added to a MULTI before the entry's XACK (its outputs, or its dead letter). */
export type CommitWrites = (multi: CommitWriter) => void;

/**
 * Called once the MULTI holding a commit has run: `applied` with the first
 * command of this entry that failed inside it, if any; otherwise not applied
 * (or not known to be), with the error that kept the EXEC reply away.
 */
export type CommitDone = (applied: boolean, error: unknown) => void;

/**
 * Where one entry's commands stand in the pipeline of the MULTI carrying
 * it (pipeline indexes, MULTI at 0): set anew each time it is laid out.
 * Fields of the queued commit rather than per-batch arrays.
 */
export interface CommitSlot {
  /** Index of its first write. */
  first: number;
  /** How many writes it added (0 for an ack only). */
  written: number;
  /** Index of the XACK that acknowledges it, shared with the entries of its stream. */
  ackAt: number;
}

/** A commit waiting for the next flush into the shared MULTI, or being sent. */
export interface QueuedCommit extends CommitSlot {
  task: Task;
  writes: CommitWrites | undefined;
  done: CommitDone;
}

export function queuedCommit(
  task: Task,
  writes: CommitWrites | undefined,
  done: CommitDone,
): QueuedCommit {
  return { task, writes, done, first: 0, written: 0, ackAt: 0 };
}

/**
 * Lays `batch` out in `pipeline` as one MULTI…EXEC: MULTI, each entry's
 * writes in order, one XACK per stream for all of its entries, EXEC.
 * Records each entry's slot and returns the index of EXEC. Each entry's
 * outputs and ack are still applied together or not at all (the whole batch
 * is), and the batch costs one XACK per stream and two framing commands
 * instead of a MULTI, an XACK and an EXEC per entry.
 *
 * Throws what a writes callback throws; the pipeline must then not be sent
 * (a half-built MULTI could write outputs without their ack).
 */
export function layOutBatch(
  pipeline: CommitSink,
  batch: readonly QueuedCommit[],
  group: string,
): number {
  pipeline.call('MULTI');
  // Arrays, not Maps: a worker reads one to three streams and this runs for every batch.
  const ackStreams: string[] = [];
  const ackIds: string[][] = [];
  for (const item of batch) {
    const before = pipeline.length;
    item.writes?.(pipeline);
    item.first = before;
    item.written = pipeline.length - before;
    let index = ackStreams.indexOf(item.task.stream);
    if (index < 0) {
      index = ackStreams.push(item.task.stream) - 1;
      ackIds.push([]);
    }
    // Which of the acked streams is its own, until the XACKs are placed below.
    item.ackAt = index;
    (ackIds[index] as string[]).push(item.task.entryId);
  }
  const acksFrom = pipeline.length;
  for (let index = 0; index < ackStreams.length; index += 1) {
    pipeline.xack(ackStreams[index] as string, group, ...(ackIds[index] as string[]));
  }
  for (const item of batch) {
    item.ackAt += acksFrom;
  }
  pipeline.call('EXEC');
  return pipeline.length - 1;
}
