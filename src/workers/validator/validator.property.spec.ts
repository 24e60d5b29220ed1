import fc from 'fast-check';
import { hostileUrl } from '../../../dev/hostile-input';
import { carriedDeploymentSchema } from '../../domain/deployment';
import { HostAllowList } from '../../net/host-allow-list';
import { parseDeploymentStarted, type ValidationRules } from './validator.schema';

/** Generous allow-lists: ranges that cover the metadata address, so only the always-refused rules stop it. */
function rulesOf(): ValidationRules {
  return {
    environments: ['staging', 'production'],
    healthCheckHosts: new HostAllowList(['*.staging.internal', '10.0.0.0/8', '169.254.0.0/16']),
    notifyHosts: new HostAllowList(['hooks.example.com', '0.0.0.0/0', '::/0']),
    healthCheckCaps: { maxAttempts: 30, maxTimeoutMs: 10_000, maxIntervalMs: 30_000 },
  };
}
const rules = rulesOf();

type Request = Record<string, unknown>;

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const semverText = fc.tuple(fc.nat(40), fc.nat(40), fc.nat(40)).map((parts) => parts.join('.'));

/** Well-formed requests of many shapes (each checked valid below). */
const validRequest: fc.Arbitrary<Request> = fc
  .record({
    deploymentId: fc.stringMatching(/^[A-Za-z0-9._-]{1,60}$/),
    service: label,
    version: semverText,
    environment: fc.constantFrom('staging', 'production'),
    dependencies: fc.uniqueArray(fc.tuple(label, semverText), {
      maxLength: 4,
      selector: ([service]) => service,
    }),
    healthHost: fc.oneof(
      label.map((name) => `${name}.staging.internal`),
      fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.${a}.${b}.1:8080`),
    ),
    notify: fc.array(fc.record({ type: fc.constantFrom('webhook', 'slack'), path: label }), {
      maxLength: 3,
    }),
    requestedBy: fc.option(label, { nil: undefined }),
  })
  .filter(({ service, dependencies }) => dependencies.every(([dep]) => dep !== service))
  .map((r) => ({
    deploymentId: r.deploymentId,
    service: r.service,
    version: r.version,
    environment: r.environment,
    artifact: `registry.example.com/${r.service}:${r.version}`,
    dependencies: r.dependencies.map(([service, version]) => ({ service, version: `^${version}` })),
    healthCheck: { url: `http://${r.healthHost}/health`, timeoutMs: 2000 },
    notify: r.notify.map(({ type, path }) => ({ type, url: `https://hooks.example.com/${path}` })),
    ...(r.requestedBy !== undefined ? { requestedBy: r.requestedBy } : {}),
  }));

/** A deep copy that can be changed without touching the generated value. */
const copy = (request: Request): Request => structuredClone(request);

/** `depth` levels of nesting around `inner`, in arrays or objects. */
const nested = (depth: number, arrays: boolean, inner: unknown): unknown => {
  let value = inner;
  for (let i = 0; i < depth; i++) {
    value = arrays ? [value] : { a: value };
  }
  return value;
};

/** A change to a request, named so a counter-example says which one failed. */
interface Change {
  what: string;
  apply: (request: Request) => Request;
}

const change = (what: string, apply: (request: Request) => Request): Change => ({ what, apply });

/** A copy of `request` with `marker` in `where` replaced by raw JSON text (own `__proto__` keys need it). */
function withRawMember(request: Request, where: string, member: string): Request {
  const out = copy(request);
  const target =
    where === 'notify' ? ((out.notify as Request[])[0] ?? out) : where === '' ? out : out[where];
  (target as Request).marker = 'here';
  return JSON.parse(JSON.stringify(out).replace('"marker":"here"', member)) as Request;
}

/** One hostile change to a valid request; every one must make it invalid. */
const hostileChange: fc.Arbitrary<Change> = fc.oneof(
  hostileUrl('billing-api.staging.internal').map((url) =>
    change(`healthCheck.url ${JSON.stringify(url)}`, (request) => {
      const out = copy(request);
      (out.healthCheck as Request).url = url;
      return out;
    }),
  ),
  fc
    .tuple(hostileUrl('hooks.example.com'), fc.constantFrom('webhook', 'slack'))
    .map(([url, type]) =>
      change(`notify ${type} ${JSON.stringify(url)}`, (request) => {
        const out = copy(request);
        out.notify = [...(out.notify as unknown[]), { type, url }];
        return out;
      }),
    ),
  // Oversize: text past its bound, lists past theirs.
  fc
    .tuple(
      fc.constantFrom('deploymentId', 'service', 'requestedBy', 'artifact', 'version'),
      fc.integer({ min: 256, max: 20_000 }),
    )
    .map(([field, size]) =>
      change(`${field} of ${size} characters`, (request) => ({
        ...copy(request),
        [field]: `1.0.0-${'a'.repeat(size)}`,
      })),
    ),
  fc.integer({ min: 2049, max: 20_000 }).map((size) =>
    change(`healthCheck.url of ${size} characters`, (request) => {
      const out = copy(request);
      (out.healthCheck as Request).url = `http://billing-api.staging.internal/${'a'.repeat(size)}`;
      return out;
    }),
  ),
  fc.integer({ min: 21, max: 200 }).map((count) =>
    change(`${count} notify targets`, (request) => ({
      ...copy(request),
      notify: Array.from({ length: count }, (_, i) => ({
        type: 'webhook',
        url: `https://hooks.example.com/${i}`,
      })),
    })),
  ),
  fc.integer({ min: 101, max: 500 }).map((count) =>
    change(`${count} dependencies`, (request) => ({
      ...copy(request),
      dependencies: Array.from({ length: count }, (_, i) => ({
        service: `dep-${i}`,
        version: '*',
      })),
    })),
  ),
  // Deep nesting, in a known field or in an extension field the schema would pass through.
  fc
    .tuple(
      fc.integer({ min: 33, max: 20_000 }),
      fc.boolean(),
      fc.constantFrom('labels', 'dependencies', 'notify', 'healthCheck'),
    )
    .map(([depth, arrays, field]) =>
      change(`${field} nested ${depth} deep`, (request) => ({
        ...copy(request),
        [field]: nested(depth, arrays, 'x'),
      })),
    ),
  // Prototype keys: a required field hidden behind one, or one anywhere.
  fc
    .tuple(
      fc.constantFrom(
        'deploymentId',
        'service',
        'version',
        'environment',
        'artifact',
        'healthCheck',
      ),
      fc.constantFrom('__proto__', 'constructor', 'prototype'),
    )
    .map(([field, key]) =>
      change(`${field} behind ${key}`, (request) => {
        const out = copy(request);
        const hidden = out[field];
        delete out[field];
        return withRawMember(
          out,
          '',
          `${JSON.stringify(key)}:${JSON.stringify({ [field]: hidden })}`,
        );
      }),
    ),
  fc
    .tuple(
      fc.constantFrom('__proto__', 'constructor', 'prototype'),
      fc.constantFrom('', 'healthCheck', 'notify'),
    )
    .map(([key, where]) =>
      change(`${key} key in ${where || 'the request'}`, (request) =>
        withRawMember(request, where, `${JSON.stringify(key)}:{"valid":true,"isAdmin":true}`),
      ),
    ),
);

/** Any JSON-like value, prototype keys and the request's own field names among the keys. */
const anyDocument = fc.anything({
  key: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'deploymentId',
      'service',
      'healthCheck',
      'notify',
      'url',
    ),
  ),
  maxDepth: 4,
  withNullPrototype: true,
});

describe('parseDeploymentStarted (properties)', () => {
  it('accepts every well-formed request, and always the same way', () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const first = parseDeploymentStarted(request, rules);
        expect(first).toMatchObject({ ok: true });
        expect(parseDeploymentStarted(copy(request), rulesOf())).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });

  it('never reports a request valid after a hostile change', () => {
    fc.assert(
      fc.property(validRequest, hostileChange, (request, { what, apply }) => {
        const result = parseDeploymentStarted(apply(request), rules);
        expect({ what, valid: result.ok }).toEqual({ what, valid: false });
      }),
      { numRuns: 1000 },
    );
  });

  it('answers any value with a verdict, never throwing, the same each time', () => {
    fc.assert(
      fc.property(anyDocument, (data) => {
        const first = parseDeploymentStarted(data, rules);
        expect(parseDeploymentStarted(data, rules)).toEqual(first);
        if (first.ok) {
          // What it calls valid is the shape every later stage reads, and it can be passed on.
          expect(carriedDeploymentSchema.safeParse(first.value).success).toBe(true);
          expect(() => JSON.stringify(first.value)).not.toThrow();
        } else {
          expect(first.errors.length).toBeGreaterThan(0);
          for (const error of first.errors) {
            expect(error.path.startsWith('$')).toBe(true);
            expect(typeof error.message).toBe('string');
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
