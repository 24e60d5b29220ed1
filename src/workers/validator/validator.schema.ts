import semver from 'semver';
import { z } from 'zod';
import type { AppConfig } from '../../config/app-config';
import {
  NOTIFY_TYPES,
  type DeploymentRequest,
  type ValidationError,
} from '../../domain/deployment';
import { HostAllowList } from '../../net/host-allow-list';
import { documentProblems, jsonPath } from './request-shape';

export type { DeploymentRequest, ValidationError } from '../../domain/deployment';
export { jsonPath } from './request-shape';

/** What a `deployment:started` request is checked against; build it with `validationRulesFromConfig`. */
export interface ValidationRules {
  /** Deployment target environments a request may name. */
  environments: readonly string[];
  healthCheckHosts: HostAllowList;
  notifyHosts: HostAllowList;
  healthCheckCaps: { maxAttempts: number; maxTimeoutMs: number; maxIntervalMs: number };
}

/** The rules from the effective configuration (the CLI `publish` command uses the same). */
export function validationRulesFromConfig(config: AppConfig): ValidationRules {
  return {
    environments: config.validation.deployEnvironments,
    healthCheckHosts: new HostAllowList(config.validation.healthCheckAllowedHosts),
    notifyHosts: new HostAllowList(config.validation.notifyAllowedHosts),
    healthCheckCaps: { ...config.validation.healthCheck },
  };
}

export type ParseDeploymentResult =
  { ok: true; value: DeploymentRequest } | { ok: false; errors: ValidationError[] };

// Bounds on what one request may ask for: each notify target is a request
// the Notifier makes, each dependency a registry lookup.
const MAX_DEPENDENCIES = 100;
const MAX_NOTIFY_TARGETS = 20;
const MAX_URL_LENGTH = 2048;

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

// The image reference grammar of distribution/reference: [domain[:port]/]path[:tag][@digest].
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?)`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);

/** `errors` for a value that must be present and of one type. */
function required(kind: string) {
  return {
    error: (issue: { input: unknown }) =>
      issue.input === undefined ? 'is required' : `must be ${kind}`,
  };
}

const text = () => z.string(required('a string'));

const wholeNumber = (min: number, max: number, label: string) =>
  z
    .number(required('a number'))
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} (${label})`);

function isImageReference(value: string): boolean {
  const match = IMAGE_REFERENCE.exec(value);
  return match !== null && (match[1]?.length ?? 0) <= 255;
}

function isSemver(value: string): boolean {
  // semver.parse tolerates a leading "v"/"=" and spaces; a release version does not.
  return /^\d/.test(value) && value.trim() === value && semver.parse(value) !== null;
}

function urlCheck(allowList: HostAllowList, setting: string) {
  return (url: string, ctx: z.RefinementCtx) => {
    if (url.length > MAX_URL_LENGTH) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_URL_LENGTH} characters` });
      return;
    }
    const check = allowList.checkUrl(url);
    if (!check.allowed) {
      // Name the setting that would allow it: an operator's next move.
      const hint = check.reason.endsWith('is not allowed')
        ? ` (not in ${setting})`
        : check.reason.endsWith('is not a public address')
          ? ` (with ${setting} empty only public addresses are allowed; list the host there to allow it)`
          : '';
      ctx.addIssue({ code: 'custom', message: `${check.reason}${hint}` });
    }
  };
}

function buildSchema(rules: ValidationRules) {
  const caps = rules.healthCheckCaps;
  const environments = rules.environments;
  return z.looseObject(
    {
      deploymentId: text()
        .min(1, 'must not be empty')
        .max(200, 'must be at most 200 characters')
        .regex(/^\S+$/, 'must not contain spaces'),
      service: text().regex(
        DNS_1123_LABEL,
        'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters',
      ),
      version: text().refine(isSemver, 'must be a semantic version such as 1.4.2'),
      environment: text().refine((env) => environments.includes(env), {
        message: `must be one of ${environments.join(', ')}`,
      }),
      artifact: text().refine(
        isImageReference,
        'must be an image reference such as registry.example.com/app:1.4.2',
      ),
      dependencies: z
        .array(
          z.object(
            {
              service: text().regex(DNS_1123_LABEL, 'must be a DNS-1123 label'),
              version: text().refine(
                (range) => range.trim() !== '' && semver.validRange(range) !== null,
                'must be a semver range such as ^2.0.0',
              ),
            },
            required('an object'),
          ),
          { error: 'must be a list' },
        )
        .max(MAX_DEPENDENCIES, `must have at most ${MAX_DEPENDENCIES} items`)
        .default([]),
      healthCheck: z.object(
        {
          url: text().superRefine(urlCheck(rules.healthCheckHosts, 'HEALTHCHECK_ALLOWED_HOSTS')),
          expectedStatus: wholeNumber(100, 599, 'an HTTP status').default(200),
          timeoutMs: wholeNumber(1, caps.maxTimeoutMs, 'HEALTHCHECK_MAX_TIMEOUT_MS').default(
            Math.min(2000, caps.maxTimeoutMs),
          ),
          intervalMs: wholeNumber(0, caps.maxIntervalMs, 'HEALTHCHECK_MAX_INTERVAL_MS').default(
            Math.min(1000, caps.maxIntervalMs),
          ),
          maxAttempts: wholeNumber(1, caps.maxAttempts, 'HEALTHCHECK_MAX_ATTEMPTS').default(
            Math.min(10, caps.maxAttempts),
          ),
        },
        required('an object'),
      ),
      notify: z
        .array(
          z.object(
            {
              type: z.enum(NOTIFY_TYPES, {
                error: (issue) =>
                  issue.input === undefined
                    ? 'is required'
                    : `must be one of ${NOTIFY_TYPES.join(', ')}`,
              }),
              url: text().superRefine(urlCheck(rules.notifyHosts, 'NOTIFY_ALLOWED_HOSTS')),
            },
            required('an object'),
          ),
          { error: 'must be a list' },
        )
        .max(MAX_NOTIFY_TARGETS, `must have at most ${MAX_NOTIFY_TARGETS} items`)
        .default([]),
      requestedBy: z
        .string({ error: 'must be a string' })
        .max(200, 'must be at most 200 characters')
        .optional(),
    },
    { error: 'must be a JSON object' },
  );
}

// Rules objects are built once per process; the schema is cached per rules object.
const schemas = new WeakMap<ValidationRules, ReturnType<typeof buildSchema>>();

/**
 * The rules that relate list items to each other or to the request
 * (duplicates, self-dependency). Run on the raw input so they are reported
 * alongside every other problem, even when the schema has failed elsewhere.
 */
function crossFieldErrors(data: unknown): ValidationError[] {
  if (data === null || typeof data !== 'object') {
    return [];
  }
  const { service, dependencies } = data as { service?: unknown; dependencies?: unknown };
  if (!Array.isArray(dependencies)) {
    return [];
  }
  const errors: ValidationError[] = [];
  const seen = new Map<string, number>();
  dependencies.forEach((item: unknown, index) => {
    const name = (item as { service?: unknown } | null)?.service;
    if (typeof name !== 'string') {
      return;
    }
    const path = jsonPath(['dependencies', index, 'service']);
    if (typeof service === 'string' && name === service) {
      errors.push({ path, message: 'must not be the deployed service itself' });
    }
    const first = seen.get(name);
    if (first === undefined) {
      seen.set(name, index);
    } else {
      errors.push({
        path,
        message: `duplicates ${jsonPath(['dependencies', first, 'service'])} (${name})`,
      });
    }
  });
  return errors;
}

/**
 * Checks a `deployment:started` payload against SPEC §1 and `rules`,
 * reporting every problem with its JSON path. On success the value has the
 * health-check defaults filled in.
 */
export function parseDeploymentStarted(
  data: unknown,
  rules: ValidationRules,
): ParseDeploymentResult {
  let schema = schemas.get(rules);
  if (!schema) {
    schema = buildSchema(rules);
    schemas.set(rules, schema);
  }
  const result = schema.safeParse(data);
  const errors: ValidationError[] = result.success
    ? []
    : result.error.issues.map((issue) => ({
        path: jsonPath(issue.path),
        message: issue.message,
      }));
  errors.push(...crossFieldErrors(data), ...documentProblems(data));
  if (!result.success || errors.length > 0) {
    return { ok: false, errors };
  }
  return { ok: true, value: result.data };
}
