/**
 * What a chaos run leaves behind, as the invariant checker reads it: the
 * entries of every stage stream, the dead letters, the registry, the consumer
 * groups' pending and lag, and the webhook sink's record of deliveries. Plus
 * what the run itself knows: the planned deployments and the faults injected.
 * Plain data, so the checker is a pure function and hand-made histories test it.
 */

export const STAGES = ['validator', 'dependency', 'health', 'notifier'] as const;
export type Stage = (typeof STAGES)[number];

export const FAULT_KINDS = [
  'kill9',
  'sigterm',
  'client-kill',
  'redis-restart',
  'client-pause',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One stream entry: its stream id and the envelope attributes the checker follows. */
export interface StageEvent {
  entryId: string;
  /** The envelope's `id`. */
  id: string;
  causationid?: string;
  source?: string;
  /** The envelope's parsed `data`. */
  data: Record<string, unknown>;
}

export interface DeadLetter {
  stream: string;
  /** Stream id of the entry that was dead-lettered. */
  id: string;
  worker: string;
  reason: string;
  deliveryCount: number;
}

export interface RegistryValue {
  version: string;
  deploymentId: string | null;
  startedId: string | null;
}

export interface GroupState {
  stream: string;
  group: string;
  pending: number;
  /** Null when Redis cannot tell (trimmed or deleted entries). */
  lag: number | null;
}

/** One webhook request the sink answered with success. */
export interface WebhookDelivery {
  /** The sink path the notification was sent to (one per target). */
  target: string;
  deploymentId: string | null;
  idempotencyKey: string;
}

export interface History {
  started: StageEvent[];
  validated: StageEvent[];
  checked: StageEvent[];
  probed: StageEvent[];
  notified: StageEvent[];
  deadLetters: DeadLetter[];
  /** environment → service → value. */
  registry: Record<string, Record<string, RegistryValue>>;
  groups: GroupState[];
  webhooks: WebhookDelivery[];
}

/** How a planned deployment is meant to end. */
export type Expectation = 'succeeded' | 'validation' | 'dependency' | 'health';

export interface PlannedDeployment {
  deploymentId: string;
  service: string;
  environment: string;
  expect: Expectation;
  /** Webhook sink paths it is notified at (its own targets and the default ones). */
  targets: string[];
}

export interface Fault {
  kind: FaultKind;
  /** Milliseconds from the start of the run. */
  atMs: number;
  /** Which service process, for faults aimed at one. */
  process?: number;
}

export interface ProcessExit {
  process: number;
  code: number | null;
  signal: string | null;
}

/** What the run knows besides the history. */
export interface RunFacts {
  deployments: PlannedDeployment[];
  faults: Fault[];
  /** Service processes running side by side. */
  processes: number;
  /** Each worker's concurrency in one process. */
  concurrency: Record<Stage, number>;
  maxDeliveries: number;
  /** deployment:started entries the producer added again after an error (same source and id). */
  producerRetries: number;
  /** Exits nobody asked for (a crash, or a non-zero exit after SIGTERM). */
  unexpectedExits: ProcessExit[];
}
