import type { DeploymentRequest } from '../../domain/deployment';
import { checkDependencies, findPath } from './dependency-check';

function deployment(dependencies: Array<[string, string]>): DeploymentRequest {
  return {
    deploymentId: 'dep-1',
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    artifact: 'registry.example.com/billing-api:1.4.2',
    dependencies: dependencies.map(([service, version]) => ({ service, version })),
    healthCheck: {
      url: 'http://billing-api.staging.internal/health',
      expectedStatus: 200,
      timeoutMs: 2000,
      intervalMs: 1000,
      maxAttempts: 10,
    },
    notify: [],
  };
}

function entry(version: string, healthy = true, dependencies: string[] = []): string {
  return JSON.stringify({
    version,
    deploymentId: `dep-${version}`,
    dependencies: dependencies.map((service) => ({ service, version: '*' })),
    healthy,
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
}

describe('checkDependencies', () => {
  it('passes a dependency that is present, in range and healthy', () => {
    expect(
      checkDependencies(deployment([['auth-api', '^2.0.0']]), { 'auth-api': entry('2.3.1') }),
    ).toEqual([
      { service: 'auth-api', required: '^2.0.0', found: '2.3.1', status: 'ok', reason: null },
    ]);
  });

  it('reports each problem on its own dependency', () => {
    const results = checkDependencies(
      deployment([
        ['auth-api', '^2.0.0'],
        ['ledger', '~1.2.0'],
        ['search', '*'],
        ['mailer', '1.x'],
      ]),
      {
        ledger: entry('1.3.0'),
        search: entry('4.0.0', false),
        mailer: 'not json',
      },
    );
    expect(results.map((r) => [r.service, r.status, r.found, r.reason])).toEqual([
      ['auth-api', 'missing', null, 'auth-api is not in the staging registry'],
      ['ledger', 'version_mismatch', '1.3.0', 'ledger 1.3.0 does not satisfy ~1.2.0'],
      ['search', 'unhealthy', '4.0.0', 'search 4.0.0 is not marked healthy'],
      ['mailer', 'missing', null, 'the staging registry entry of mailer is unreadable'],
    ]);
  });

  it('reports a dependency named like an Object.prototype member as missing, not unreadable', () => {
    const results = checkDependencies(
      deployment([
        ['constructor', '*'],
        ['toString', '*'],
        ['__proto__', '*'],
      ]),
      {},
    );
    expect(results.map((r) => [r.service, r.status, r.reason])).toEqual([
      ['constructor', 'missing', 'constructor is not in the staging registry'],
      ['toString', 'missing', 'toString is not in the staging registry'],
      ['__proto__', 'missing', '__proto__ is not in the staging registry'],
    ]);
    expect(
      checkDependencies(deployment([['constructor', '^1.0.0']]), {
        constructor: entry('1.2.0'),
      })[0],
    ).toMatchObject({ status: 'ok', found: '1.2.0' });
  });

  it('reports a cycle through the recorded dependencies, with its path', () => {
    const [result] = checkDependencies(deployment([['auth-api', '*']]), {
      'auth-api': entry('2.0.0', true, ['ledger']),
      ledger: entry('1.0.0', true, ['billing-api']),
      'billing-api': entry('1.4.1', true, []),
    });
    expect(result).toEqual({
      service: 'auth-api',
      required: '*',
      found: '2.0.0',
      status: 'cycle',
      reason: 'dependency cycle: billing-api -> auth-api -> ledger -> billing-api',
      cycle: ['billing-api', 'auth-api', 'ledger', 'billing-api'],
    });
  });

  it('uses the new deployment’s dependencies rather than its registry line', () => {
    // The running billing-api depended on ledger; the new version no longer does.
    const results = checkDependencies(deployment([['ledger', '*']]), {
      'billing-api': entry('1.4.1', true, ['ledger']),
      ledger: entry('1.0.0', true, []),
    });
    expect(results.map((r) => r.status)).toEqual(['ok']);
  });

  it('does not loop on a cycle the registry already has elsewhere', () => {
    const results = checkDependencies(deployment([['a', '*']]), {
      a: entry('1.0.0', true, ['b']),
      b: entry('1.0.0', true, ['a']),
    });
    expect(results.map((r) => r.status)).toEqual(['ok']);
  });

  it('accepts registry dependencies seeded as bare names', () => {
    const [result] = checkDependencies(deployment([['auth-api', '*']]), {
      'auth-api': JSON.stringify({
        version: '2.0.0',
        healthy: true,
        dependencies: ['billing-api'],
      }),
    });
    expect(result?.status).toBe('cycle');
  });
});

describe('findPath', () => {
  it('returns undefined when the target is unreachable', () => {
    expect(findPath(new Map([['a', ['b']]]), 'a', 'z')).toBeUndefined();
  });
});
