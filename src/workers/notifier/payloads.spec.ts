import { createHmac } from 'node:crypto';
import type { Notification } from './notification';
import { idempotencyKey, signBody, slackPayload, targetId, webhookBody } from './payloads';

function notification(over: Partial<Notification> = {}): Notification {
  return {
    terminalEventId: 'evt-9',
    terminalEventType: 'dependency:checked',
    occurredAt: '2026-01-01T00:00:00.000Z',
    deploymentId: 'dep-7',
    outcome: 'failed',
    failedStage: 'dependency',
    reason: 'dependencies not satisfied: auth-api missing (<none> & gone)',
    service: 'billing-api',
    version: '1.4.2',
    environment: 'staging',
    details: {},
    targets: [],
    ...over,
  };
}

describe('webhook signature', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact body with the secret', () => {
    const body = webhookBody(notification());
    const expected = createHmac('sha256', 's3cret-value').update(body).digest('hex');
    expect(signBody(body, 's3cret-value')).toBe(`sha256=${expected}`);
  });

  it('changes when one byte of the body changes', () => {
    expect(signBody('{"a":1}', 'k3y-value')).not.toBe(signBody('{"a":2}', 'k3y-value'));
  });

  it('signs the JSON that names the outcome, stage and terminal event', () => {
    expect(JSON.parse(webhookBody(notification()))).toMatchObject({
      type: 'deployment.notification',
      deploymentId: 'dep-7',
      outcome: 'failed',
      failedStage: 'dependency',
      service: 'billing-api',
      terminalEvent: { id: 'evt-9', type: 'dependency:checked' },
    });
  });
});

describe('idempotency key', () => {
  it('is stable per terminal event and target, and differs between targets', () => {
    const hook = { type: 'webhook' as const, url: 'https://hooks.example.com/a' };
    const other = { type: 'webhook' as const, url: 'https://hooks.example.com/b' };
    expect(idempotencyKey(notification(), hook)).toBe(idempotencyKey(notification(), hook));
    expect(idempotencyKey(notification(), hook)).toBe(`evt-9:${targetId(hook)}`);
    expect(idempotencyKey(notification(), hook)).not.toBe(idempotencyKey(notification(), other));
    expect(idempotencyKey(notification(), hook)).not.toContain('hooks.example.com');
  });
});

describe('slackPayload', () => {
  it('tells a failure with service, version, environment, stage and reason', () => {
    const payload = slackPayload(notification());
    expect(payload.text).toBe(
      'Deployment failed at dependency: billing-api 1.4.2 to staging. Reason: dependencies not satisfied: auth-api missing (&lt;none&gt; &amp; gone)',
    );
    const blocks = JSON.stringify(payload.blocks);
    for (const part of ['*Outcome*\\nfailed', '*Service*\\nbilling-api', '*Version*\\n1.4.2']) {
      expect(blocks).toContain(part);
    }
    expect(blocks).toContain('*Environment*\\nstaging');
    expect(blocks).toContain('*Failed stage*\\ndependency');
    // Slack markup characters in the reason are escaped in blocks as in the text.
    expect(blocks).toContain('(&lt;none&gt; &amp; gone)');
  });

  it('tells a success without a failed stage or reason', () => {
    const payload = slackPayload(
      notification({ outcome: 'succeeded', failedStage: null, reason: null }),
    );
    expect(payload.text).toBe('Deployment succeeded: billing-api 1.4.2 to staging');
    expect(JSON.stringify(payload.blocks)).not.toContain('Failed stage');
  });

  it('cannot ping a channel through a service name, in the text or the blocks', () => {
    const payload = slackPayload(
      notification({
        outcome: 'succeeded',
        failedStage: null,
        reason: null,
        service: '<!channel>',
      }),
    );
    expect(payload.text).toBe('Deployment succeeded: &lt;!channel&gt; 1.4.2 to staging');
    expect(JSON.stringify(payload)).not.toContain('<!channel>');
  });

  it('copes with an invalid request that named no service', () => {
    const payload = slackPayload(
      notification({ service: null, version: null, environment: null, failedStage: 'validation' }),
    );
    expect(payload.text).toMatch(/^Deployment failed at validation: unknown service \? to \?/);
  });
});
