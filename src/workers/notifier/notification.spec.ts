import { InvalidEntryError } from '../../errors';
import { notificationFor } from './notification';

const deployment = {
  deploymentId: 'dep-1',
  service: 'billing-api',
  version: '1.4.2',
  environment: 'staging',
  notify: [
    { type: 'webhook', url: 'https://hooks.example.com/x' },
    { type: 'pager', url: 'https://pager.example.com/' },
  ],
};
const envelope = (data: unknown) => ({ id: 'evt-1', time: '2026-01-01T00:00:00Z', data });

describe('notificationFor', () => {
  it('skips events that are not terminal', () => {
    expect(
      notificationFor(
        'validation:completed',
        envelope({ deploymentId: 'dep-1', valid: true, errors: [], deployment }),
      ),
    ).toBeUndefined();
    expect(
      notificationFor(
        'dependency:checked',
        envelope({ deploymentId: 'dep-1', satisfied: true, results: [], deployment }),
      ),
    ).toBeUndefined();
  });

  it('announces an invalid request as failed at validation, with its known targets', () => {
    const n = notificationFor(
      'validation:completed',
      envelope({
        deploymentId: 'dep-1',
        valid: false,
        errors: [
          { path: '$.version', message: 'must be a semantic version such as 1.4.2' },
          { path: '$.artifact', message: 'is required' },
        ],
        deployment,
      }),
    );
    expect(n).toMatchObject({
      outcome: 'failed',
      failedStage: 'validation',
      reason:
        'invalid request: $.version must be a semantic version such as 1.4.2; $.artifact is required',
      service: 'billing-api',
      targets: [{ type: 'webhook', url: 'https://hooks.example.com/x' }],
    });
  });

  it('announces unsatisfied dependencies with each failing one', () => {
    const n = notificationFor(
      'dependency:checked',
      envelope({
        deploymentId: 'dep-1',
        satisfied: false,
        results: [
          { service: 'a', required: '*', found: '1.0.0', status: 'ok', reason: null },
          { service: 'b', required: '^2', found: null, status: 'missing', reason: 'b is gone' },
        ],
        deployment,
      }),
    );
    expect(n).toMatchObject({
      failedStage: 'dependency',
      reason: 'dependencies not satisfied: b missing (b is gone)',
    });
  });

  it('announces every health result, success included', () => {
    const data = {
      deploymentId: 'dep-1',
      attempts: 3,
      lastStatus: 503,
      lastError: 'status 503, expected 200',
      durationMs: 20,
      deployment,
    };
    expect(notificationFor('health:checked', envelope({ ...data, healthy: false }))).toMatchObject({
      outcome: 'failed',
      failedStage: 'health',
      reason: 'not healthy after 3 attempts: status 503, expected 200',
    });
    expect(notificationFor('health:checked', envelope({ ...data, healthy: true }))).toMatchObject({
      outcome: 'succeeded',
      failedStage: null,
      reason: null,
    });
  });

  it('treats a terminal event of the wrong shape as a poison entry', () => {
    expect(() => notificationFor('health:checked', envelope({ healthy: 'yes' }))).toThrow(
      InvalidEntryError,
    );
  });
});
