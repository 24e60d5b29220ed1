import { z } from 'zod';

export const NOTIFY_TYPES = ['webhook', 'slack'] as const;
export type NotifyType = (typeof NOTIFY_TYPES)[number];

export interface DependencySpec {
  service: string;
  /** A semver range. */
  version: string;
}

/** Health probe settings with defaults filled in by the Validator. */
export interface HealthCheckSpec {
  url: string;
  expectedStatus: number;
  timeoutMs: number;
  intervalMs: number;
  maxAttempts: number;
}

export interface NotifyTarget {
  type: NotifyType;
  url: string;
}

/**
 * A validated `deployment:started` request (SPEC §1), as the Validator
 * passes it on in every later event's `deployment` field.
 */
export interface DeploymentRequest {
  deploymentId: string;
  service: string;
  version: string;
  environment: string;
  artifact: string;
  dependencies: DependencySpec[];
  healthCheck: HealthCheckSpec;
  notify: NotifyTarget[];
  requestedBy?: string;
}

/**
 * Shape check of a deployment carried forward by an upstream worker. The
 * rules were applied by the Validator; downstream workers only make sure
 * the document is the shape they rely on (a mismatch is a poison entry).
 */
export const carriedDeploymentSchema: z.ZodType<DeploymentRequest> = z.looseObject({
  deploymentId: z.string(),
  service: z.string(),
  version: z.string(),
  environment: z.string(),
  artifact: z.string(),
  dependencies: z.array(z.object({ service: z.string(), version: z.string() })),
  healthCheck: z.object({
    url: z.string(),
    expectedStatus: z.number().int(),
    timeoutMs: z.number(),
    intervalMs: z.number(),
    maxAttempts: z.number().int(),
  }),
  notify: z.array(z.object({ type: z.enum(NOTIFY_TYPES), url: z.string() })),
  requestedBy: z.string().optional(),
});

export interface ValidationError {
  /** JSON path such as `$.dependencies[1].version`. */
  path: string;
  message: string;
}

/**
 * `validation:completed` data. `deployment` is the raw request when invalid.
 * `startedId` is the stream id of the `deployment:started` entry, carried on
 * to the Health Monitor's registry write (the registry never goes backwards).
 */
export type ValidationCompleted = { startedId?: string } & (
  | { deploymentId: string; valid: true; errors: []; deployment: DeploymentRequest }
  | { deploymentId: string | null; valid: false; errors: ValidationError[]; deployment: unknown }
);

export const DEPENDENCY_STATUSES = [
  'ok',
  'missing',
  'version_mismatch',
  'unhealthy',
  'cycle',
] as const;
export type DependencyStatus = (typeof DEPENDENCY_STATUSES)[number];

export interface DependencyResult {
  service: string;
  /** The range the deployment requires. */
  required: string;
  /** Version in the registry, or null when absent. */
  found: string | null;
  status: DependencyStatus;
  /** Why the status is not ok; null when ok. */
  reason: string | null;
  /** For `cycle`: the services on the cycle, first repeated last. */
  cycle?: string[];
}

/** `dependency:checked` data; `startedId` as in `validation:completed`. */
export interface DependencyChecked {
  deploymentId: string;
  satisfied: boolean;
  results: DependencyResult[];
  deployment: DeploymentRequest;
  startedId?: string;
}

/** `health:checked` data. */
export interface HealthChecked {
  deploymentId: string;
  healthy: boolean;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  durationMs: number;
  deployment: DeploymentRequest;
}

export type NotifyTargetStatus = 'delivered' | 'failed' | 'refused';

export interface NotifyTargetResult {
  type: NotifyType;
  /** The URL without credentials: no userinfo or query, the path up to its first token-like segment. */
  target: string;
  status: NotifyTargetStatus;
  attempts: number;
  /** Why the last attempt did not deliver (`status 503`, `no answer within 10000ms`); absent when delivered. */
  error?: string;
}

export type FailedStage = 'validation' | 'dependency' | 'health';

/** `notification:sent` data. */
export interface NotificationSent {
  deploymentId: string | null;
  outcome: 'succeeded' | 'failed';
  failedStage: FailedStage | null;
  reason: string | null;
  targets: NotifyTargetResult[];
}

export const dependencyCheckedSchema = z.looseObject({
  deploymentId: z.string(),
  satisfied: z.boolean(),
  results: z.array(
    z.looseObject({
      service: z.string(),
      required: z.string(),
      found: z.string().nullable(),
      status: z.enum(DEPENDENCY_STATUSES),
      reason: z.string().nullable(),
    }),
  ),
  deployment: z.unknown(),
  startedId: z.string().optional(),
});

export const healthCheckedSchema = z.looseObject({
  deploymentId: z.string(),
  healthy: z.boolean(),
  attempts: z.number(),
  lastStatus: z.number().nullable(),
  lastError: z.string().nullable(),
  durationMs: z.number(),
  deployment: z.unknown(),
});

export const validationCompletedSchema = z.looseObject({
  deploymentId: z.string().nullable(),
  valid: z.boolean(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })),
  deployment: z.unknown(),
  startedId: z.string().optional(),
});
