import { NOOP_ENTRY_SPAN } from '../../tracing/noop-tracing';
import type { EntrySpan } from '../../tracing/tracing';
import type { EventType } from '../topology';

/** An entry as XREADGROUP and XAUTOCLAIM return it; nil fields when deleted while pending. */
export type RawEntry = [id: string, fields: string[] | null];

/**
 * One entry being handled: the only object the runtime allocates per entry
 * besides the handler's own promise and the message it is given.
 */
export interface Task {
  /** taskKey(stream, entryId): its key in the task table. */
  key: string;
  stream: string;
  eventType: EventType;
  entryId: string;
  fields: string[];
  deliveryCount: number;
  /** performance.now() when read or claimed. */
  receivedAt: number;
  /** Date.now() when the handler started, for the claim keep-alive. */
  handlerStartedAt: number | undefined;
  handlerRunning: boolean;
  /** The timeout sweep found the handler overdue; cleared when the handler settles. */
  timedOut: boolean;
  /** Fails the running handler's wait with a timeout (set while the handler runs). */
  expire: ((error: Error) => void) | undefined;
  /** Called once the handler has really settled, when a timed-out entry waits for its slot. */
  onSettled: (() => void) | undefined;
  /** Keep-alive found the entry owned by another consumer: it is theirs to commit now. */
  claimLost: boolean;
  /**
   * Made on first use of `message.signal`: most handlers never look at it,
   * and one AbortController per entry is a measurable share of the hot path.
   */
  controller: AbortController | undefined;
  /** Why the entry was aborted, kept for a signal asked for afterwards. */
  abortReason: Error | undefined;
  /** The entry's consumer span; the shared no-op when not tracing. */
  span: EntrySpan;
}

export function taskKey(stream: string, entryId: string): string {
  return `${stream}\u0000${entryId}`;
}

/** A task for an entry just read or claimed (`key` is its taskKey), its handler not started yet. */
export function newTask(
  key: string,
  stream: string,
  eventType: EventType,
  entryId: string,
  fields: string[],
  deliveryCount: number,
  span: EntrySpan = NOOP_ENTRY_SPAN,
): Task {
  return {
    key,
    stream,
    eventType,
    entryId,
    fields,
    deliveryCount,
    receivedAt: performance.now(),
    handlerStartedAt: undefined,
    handlerRunning: false,
    timedOut: false,
    expire: undefined,
    onSettled: undefined,
    claimLost: false,
    controller: undefined,
    abortReason: undefined,
    span,
  };
}

/** Aborts a task's signal, now or whenever the handler first asks for it. */
export function abortTask(task: Task, reason: Error): void {
  task.abortReason ??= reason;
  task.controller?.abort(reason);
}

/** The task's AbortSignal, created lazily and already aborted if the task was. */
export function taskSignal(task: Task): AbortSignal {
  if (!task.controller) {
    task.controller = new AbortController();
    if (task.abortReason) {
      task.controller.abort(task.abortReason);
    }
  }
  return task.controller.signal;
}
