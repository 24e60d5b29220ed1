/** The four workers, in their default start order. */
export const WORKER_NAMES = ['validator', 'dependency', 'health', 'notifier'] as const;
export type WorkerName = (typeof WORKER_NAMES)[number];

export function isWorkerName(value: string): value is WorkerName {
  return (WORKER_NAMES as readonly string[]).includes(value);
}
