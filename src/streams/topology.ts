import { createHash } from 'node:crypto';
import type { WorkerName } from '../config/worker-names';
import { WORKER_NAMES } from '../config/worker-names';

/** Event types of the pipeline (SPEC §1). */
export const EVENT_TYPES = {
  deploymentStarted: 'deployment:started',
  validationCompleted: 'validation:completed',
  dependencyChecked: 'dependency:checked',
  healthChecked: 'health:checked',
  notificationSent: 'notification:sent',
} as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** Which event types each worker reads, and the group it reads them in. */
const READS: Record<WorkerName, readonly EventType[]> = {
  validator: [EVENT_TYPES.deploymentStarted],
  dependency: [EVENT_TYPES.validationCompleted],
  health: [EVENT_TYPES.dependencyChecked],
  notifier: [
    EVENT_TYPES.validationCompleted,
    EVENT_TYPES.dependencyChecked,
    EVENT_TYPES.healthChecked,
  ],
};

export interface StreamGroup {
  worker: WorkerName;
  group: string;
  stream: string;
  eventType: EventType;
}

/**
 * The one builder for stream keys, group names and registry keys, so every
 * part of the service (workers, CLI, status, metrics) agrees on them.
 */
export class StreamTopology {
  constructor(
    readonly prefix: string,
    readonly registryPrefix: string,
  ) {}

  stream(eventType: string): string {
    return `${this.prefix}:${eventType}`;
  }

  get deadLetterStream(): string {
    return `${this.prefix}:dead-letter`;
  }

  group(worker: WorkerName): string {
    return `printery-${worker}`;
  }

  registryKey(environment: string): string {
    return `${this.registryPrefix}:${environment}`;
  }

  /**
   * Key of the Validator's record that a deployment:started with this
   * source and id was accepted (hashed: both are the producer's text).
   */
  acceptedKey(source: string, id: string): string {
    const digest = createHash('sha256').update(`${source}\n${id}`).digest('hex');
    return `${this.prefix}:accepted:${digest}`;
  }

  /** Key of the Notifier's record of delivered targets for one terminal event. */
  deliveryKey(terminalEventId: string): string {
    return `${this.prefix}:notify-delivered:${terminalEventId}`;
  }

  readsOf(worker: WorkerName): StreamGroup[] {
    return READS[worker].map((eventType) => ({
      worker,
      group: this.group(worker),
      stream: this.stream(eventType),
      eventType,
    }));
  }

  /** Every stream the service reads or writes: each stage's stream and the dead-letter stream. */
  allStreams(): string[] {
    return [...Object.values(EVENT_TYPES).map((type) => this.stream(type)), this.deadLetterStream];
  }

  /** Every (stream, group) pair of the four workers, whatever subset runs here. */
  allReads(): StreamGroup[] {
    return WORKER_NAMES.flatMap((worker) => this.readsOf(worker));
  }
}
