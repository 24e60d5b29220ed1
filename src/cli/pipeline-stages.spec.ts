import { describeStage } from './pipeline-stages';

const deployment = { deploymentId: 'dep-1' };

describe('describeStage', () => {
  it('lists every validation problem and expects the notification next', () => {
    const stage = describeStage(
      'validation:completed',
      'e1',
      {
        deploymentId: 'dep-1',
        valid: false,
        errors: [
          { path: '$.version', message: 'must be a semantic version' },
          { path: '$.service', message: 'must be a DNS-1123 label' },
        ],
        deployment,
      },
      12.4,
    );
    expect(stage).toMatchObject({
      stage: 'validation',
      ok: false,
      summary: 'failed with 2 problems',
      details: ['$.version: must be a semantic version', '$.service: must be a DNS-1123 label'],
      next: 'notification',
      elapsedMs: 12,
    });
  });

  it('names the failing dependencies with what was found', () => {
    const stage = describeStage(
      'dependency:checked',
      'e2',
      {
        deploymentId: 'dep-1',
        satisfied: false,
        results: [
          { service: 'db', required: '^1.0.0', found: '1.2.0', status: 'ok', reason: null },
          {
            service: 'auth-api',
            required: '^2.0.0',
            found: '1.9.0',
            status: 'version_mismatch',
            reason: '1.9.0 does not satisfy ^2.0.0',
          },
        ],
        deployment,
      },
      0,
    );
    expect(stage.summary).toBe('not satisfied (1 of 2)');
    expect(stage.details).toEqual([
      'auth-api ^2.0.0: version_mismatch (found 1.9.0) - 1.9.0 does not satisfy ^2.0.0',
    ]);
  });

  it('reports an unhealthy probe with its last status and no secret', () => {
    const stage = describeStage(
      'health:checked',
      'e3',
      {
        deploymentId: 'dep-1',
        healthy: false,
        attempts: 3,
        lastStatus: 503,
        lastError: 'GET https://user:hunter2@svc/health failed',
        durationMs: 1500,
        deployment,
      },
      0,
    );
    expect(stage.summary).toBe('unhealthy after 3 attempts in 1.5s');
    expect(stage.details[0]).toContain('last status 503');
    expect(stage.details[0]).not.toContain('hunter2');
  });

  it('closes the deployment on notification:sent with its outcome', () => {
    const stage = describeStage(
      'notification:sent',
      'e4',
      {
        deploymentId: 'dep-1',
        outcome: 'failed',
        failedStage: 'health',
        reason: 'unhealthy after 3 attempts',
        targets: [{ type: 'webhook', target: 'https://hooks', status: 'failed', attempts: 5 }],
      },
      0,
    );
    expect(stage.final).toEqual({
      outcome: 'failed',
      failedStage: 'health',
      reason: 'unhealthy after 3 attempts',
    });
    expect(stage.summary).toBe('delivered to 0 of 1 target');
    expect(stage.details).toEqual(['webhook https://hooks: failed after 5 attempt(s)']);
  });

  it('marks an event it cannot read instead of guessing', () => {
    expect(describeStage('health:checked', 'e5', { healthy: 'yes' }, 0)).toMatchObject({
      ok: null,
      summary: 'event not readable',
    });
  });
});
