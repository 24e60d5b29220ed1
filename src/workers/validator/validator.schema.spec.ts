import { HostAllowList } from '../../net/host-allow-list';
import { jsonPath, parseDeploymentStarted, type ValidationRules } from './validator.schema';

const rules: ValidationRules = {
  environments: ['staging', 'production'],
  healthCheckHosts: new HostAllowList(['*.staging.internal', '10.0.0.0/8']),
  notifyHosts: new HostAllowList(['hooks.example.com', 'hooks.slack.example']),
  healthCheckCaps: { maxAttempts: 30, maxTimeoutMs: 10_000, maxIntervalMs: 30_000 },
};

function validRequest(): Record<string, unknown> {
  return {
    deploymentId: 'dep-2026-0042',
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    artifact: 'registry.example.com/billing-api:1.4.2',
    dependencies: [{ service: 'auth-api', version: '^2.0.0' }],
    healthCheck: {
      url: 'http://billing-api.staging.internal/health',
      expectedStatus: 200,
      timeoutMs: 2000,
      intervalMs: 1000,
      maxAttempts: 10,
    },
    notify: [
      { type: 'webhook', url: 'https://hooks.example.com/deploys' },
      { type: 'slack', url: 'https://hooks.slack.example/T0/B0/x' },
    ],
    requestedBy: 'alice',
  };
}

function errorsFor(patch: (request: Record<string, unknown>) => void) {
  const request = validRequest();
  patch(request);
  const result = parseDeploymentStarted(request, rules);
  if (result.ok) {
    throw new Error('expected the request to be refused');
  }
  return result.errors;
}

describe('parseDeploymentStarted', () => {
  it('accepts the SPEC example and fills nothing it was given', () => {
    const result = parseDeploymentStarted(validRequest(), rules);
    expect(result).toEqual({ ok: true, value: validRequest() });
  });

  it('fills health-check defaults within the caps', () => {
    const request = validRequest();
    request.healthCheck = { url: 'http://10.1.2.3:8080/health' };
    const result = parseDeploymentStarted(request, rules);
    expect(result.ok && result.value.healthCheck).toEqual({
      url: 'http://10.1.2.3:8080/health',
      expectedStatus: 200,
      timeoutMs: 2000,
      intervalMs: 1000,
      maxAttempts: 10,
    });
  });

  it('treats dependencies and notify as optional', () => {
    const request = validRequest();
    delete request.dependencies;
    delete request.notify;
    const result = parseDeploymentStarted(request, rules);
    expect(result.ok && [result.value.dependencies, result.value.notify]).toEqual([[], []]);
  });

  it.each([
    ['deploymentId'],
    ['service'],
    ['version'],
    ['environment'],
    ['artifact'],
    ['healthCheck'],
  ])('requires %s', (field) => {
    expect(errorsFor((r) => delete r[field])).toEqual([
      { path: `$.${field}`, message: 'is required' },
    ]);
  });

  it('requires the health-check URL', () => {
    expect(errorsFor((r) => (r.healthCheck = {}))).toEqual([
      { path: '$.healthCheck.url', message: 'is required' },
    ]);
  });

  it.each(['Billing-API', '-billing', 'billing_api', 'a'.repeat(64)])(
    'refuses service %j, which is not a DNS-1123 label',
    (service) => {
      expect(errorsFor((r) => (r.service = service))).toEqual([
        { path: '$.service', message: expect.stringContaining('DNS-1123 label') },
      ]);
    },
  );

  it.each(['1.4', 'v1.4.2', 'latest', ' 1.4.2'])('refuses version %j, which is not semver', (v) => {
    expect(errorsFor((r) => (r.version = v))).toEqual([
      { path: '$.version', message: 'must be a semantic version such as 1.4.2' },
    ]);
  });

  it('accepts a pre-release semver version with build metadata', () => {
    const request = validRequest();
    request.version = '2.0.0-rc.1+sha.5114f85';
    expect(parseDeploymentStarted(request, rules).ok).toBe(true);
  });

  it('refuses an environment that is not configured', () => {
    expect(errorsFor((r) => (r.environment = 'qa'))).toEqual([
      { path: '$.environment', message: 'must be one of staging, production' },
    ]);
  });

  it.each([
    'registry.example.com/billing-api:1.4.2',
    'localhost:5000/team/app@sha256:' + 'a'.repeat(64),
    'nginx',
    'ghcr.io/org/app:v1.0.0-rc_1',
  ])('accepts image reference %j', (artifact) => {
    const request = validRequest();
    request.artifact = artifact;
    expect(parseDeploymentStarted(request, rules).ok).toBe(true);
  });

  it.each(['Registry/App:1', 'app:', 'app:tag with space', 'https://registry/app:1', ''])(
    'refuses image reference %j',
    (artifact) => {
      expect(errorsFor((r) => (r.artifact = artifact))).toEqual([
        { path: '$.artifact', message: expect.stringContaining('image reference') },
      ]);
    },
  );

  it('refuses a dependency whose version is not a semver range', () => {
    expect(
      errorsFor((r) => (r.dependencies = [{ service: 'auth-api', version: 'two-ish' }])),
    ).toEqual([
      { path: '$.dependencies[0].version', message: 'must be a semver range such as ^2.0.0' },
    ]);
  });

  it('refuses a service listed twice as a dependency, pointing at the first', () => {
    expect(
      errorsFor(
        (r) =>
          (r.dependencies = [
            { service: 'auth-api', version: '^2.0.0' },
            { service: 'ledger', version: '1.x' },
            { service: 'auth-api', version: '^2.1.0' },
          ]),
      ),
    ).toEqual([
      {
        path: '$.dependencies[2].service',
        message: 'duplicates $.dependencies[0].service (auth-api)',
      },
    ]);
  });

  it('refuses a service that depends on itself', () => {
    expect(errorsFor((r) => (r.dependencies = [{ service: 'billing-api', version: '*' }]))).toEqual(
      [{ path: '$.dependencies[0].service', message: 'must not be the deployed service itself' }],
    );
  });

  it('refuses a health-check URL whose host is not allowed', () => {
    expect(
      errorsFor((r) => (r.healthCheck = { url: 'http://billing.prod.internal/health' })),
    ).toEqual([
      {
        path: '$.healthCheck.url',
        message: 'host billing.prod.internal is not allowed (not in HEALTHCHECK_ALLOWED_HOSTS)',
      },
    ]);
  });

  it('refuses a health-check URL at the cloud metadata address even inside an allowed range', () => {
    const wide = { ...rules, healthCheckHosts: new HostAllowList(['169.254.0.0/16']) };
    const request = validRequest();
    request.healthCheck = { url: 'http://169.254.169.254/latest/meta-data/' };
    expect(parseDeploymentStarted(request, wide)).toEqual({
      ok: false,
      errors: [
        { path: '$.healthCheck.url', message: 'host 169.254.169.254 is a cloud metadata address' },
      ],
    });
  });

  it('refuses a health-check URL that is not http(s)', () => {
    expect(errorsFor((r) => (r.healthCheck = { url: 'file:///etc/passwd' }))).toEqual([
      { path: '$.healthCheck.url', message: 'must use http or https' },
    ]);
  });

  it('refuses health-check numbers beyond the configured caps', () => {
    expect(
      errorsFor(
        (r) =>
          (r.healthCheck = {
            url: 'http://billing-api.staging.internal/health',
            expectedStatus: 700,
            timeoutMs: 60_000,
            intervalMs: -1,
            maxAttempts: 31,
          }),
      ),
    ).toEqual([
      { path: '$.healthCheck.expectedStatus', message: 'must be at most 599 (an HTTP status)' },
      {
        path: '$.healthCheck.timeoutMs',
        message: 'must be at most 10000 (HEALTHCHECK_MAX_TIMEOUT_MS)',
      },
      { path: '$.healthCheck.intervalMs', message: 'must be at least 0' },
      {
        path: '$.healthCheck.maxAttempts',
        message: 'must be at most 30 (HEALTHCHECK_MAX_ATTEMPTS)',
      },
    ]);
  });

  it('refuses more notify targets, dependencies or URL characters than a request may ask for', () => {
    const many = (count: number) => Array.from({ length: count }, (_, i) => i);
    expect(
      errorsFor((r) => {
        r.notify = many(21).map((i) => ({
          type: 'webhook',
          url: `https://hooks.example.com/${i}`,
        }));
        r.dependencies = many(101).map((i) => ({ service: `dep-${i}`, version: '*' }));
        r.healthCheck = { url: `http://billing-api.staging.internal/${'a'.repeat(2048)}` };
      }),
    ).toEqual([
      { path: '$.dependencies', message: 'must have at most 100 items' },
      { path: '$.healthCheck.url', message: 'must be at most 2048 characters' },
      { path: '$.notify', message: 'must have at most 20 items' },
    ]);
  });

  it('refuses a document nested deeper than 32 levels, once, at the first level too deep', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i++) {
      deep = [deep];
    }
    expect(errorsFor((r) => (r.labels = { team: deep }))).toEqual([
      { path: `$.labels.team${'[0]'.repeat(30)}`, message: 'is nested deeper than 32 levels' },
    ]);
  });

  it('refuses prototype keys, so no field can hide behind __proto__', () => {
    const request = validRequest();
    delete request.service;
    const hidden = JSON.parse(
      JSON.stringify(request).replace(/^\{/, '{"__proto__":{"service":"billing-api"},'),
    ) as unknown;
    expect(parseDeploymentStarted(hidden, rules)).toEqual({
      ok: false,
      errors: [
        { path: '$.service', message: 'is required' },
        { path: '$.__proto__', message: 'is not an allowed key' },
      ],
    });
    expect(
      errorsFor((r) => Object.assign(r.healthCheck as object, { constructor: { x: 1 } })),
    ).toEqual([{ path: '$.healthCheck.constructor', message: 'is not an allowed key' }]);
  });

  it('refuses a notify target of an unknown type', () => {
    expect(
      errorsFor((r) => (r.notify = [{ type: 'email', url: 'https://hooks.example.com/x' }])),
    ).toEqual([{ path: '$.notify[0].type', message: 'must be one of webhook, slack' }]);
  });

  it('refuses a notify target whose host is not allowed', () => {
    expect(
      errorsFor((r) => (r.notify = [{ type: 'webhook', url: 'https://evil.example.net/hook' }])),
    ).toEqual([
      {
        path: '$.notify[0].url',
        message: 'host evil.example.net is not allowed (not in NOTIFY_ALLOWED_HOSTS)',
      },
    ]);
  });

  it('reports a payload that is not an object at the root', () => {
    expect(parseDeploymentStarted('deploy please', rules)).toEqual({
      ok: false,
      errors: [{ path: '$', message: 'must be a JSON object' }],
    });
  });

  it('reports every problem of a request with many, each at its path', () => {
    const result = parseDeploymentStarted(
      {
        deploymentId: 'dep-1',
        service: 'Billing_API',
        version: 'latest',
        environment: 'moon',
        artifact: 'not an image',
        dependencies: [
          { service: 'auth-api', version: 'nope' },
          { service: 'auth-api', version: 7 },
          { service: 'Billing_API', version: '*' },
        ],
        healthCheck: { url: 'http://169.254.169.254/', maxAttempts: 0 },
        notify: [{ type: 'pager', url: 'https://evil.example.net/' }],
      },
      rules,
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.path).sort()).toEqual(
      [
        '$.service',
        '$.version',
        '$.environment',
        '$.artifact',
        '$.dependencies[0].version',
        '$.dependencies[1].version',
        '$.dependencies[1].service',
        '$.dependencies[2].service',
        '$.dependencies[2].service',
        '$.healthCheck.url',
        '$.healthCheck.maxAttempts',
        '$.notify[0].type',
        '$.notify[0].url',
      ].sort(),
    );
  });
});

describe('jsonPath', () => {
  it('writes indexes in brackets and odd keys quoted', () => {
    expect(jsonPath(['dependencies', 1, 'version'])).toBe('$.dependencies[1].version');
    expect(jsonPath(['a-b'])).toBe('$["a-b"]');
    expect(jsonPath([])).toBe('$');
  });
});
