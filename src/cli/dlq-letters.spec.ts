import { displayedDeadLetter } from './dlq-letters';

const letter = (fields: string[]) => ({
  deadLetterId: '1700000000000-0',
  stream: 'p:deployment:requested',
  id: '1699999999999-0',
  group: 'printery-validator',
  worker: 'validator',
  reason: 'max_deliveries' as const,
  error: 'connect ECONNREFUSED redis://ops:hunter2@10.0.0.5:6379',
  deliveryCount: 5,
  time: '2026-01-01T00:00:00.000Z',
  fields,
});

describe('displayedDeadLetter', () => {
  const deployment = {
    deploymentId: 'dep-1',
    service: 'billing-api',
    healthCheck: { url: 'https://svc:pw@billing.internal/health?token=abc', expectedStatus: 200 },
    notify: [
      { type: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XyzSecret' },
      { type: 'webhook', url: 'https://hooks.example.com/ci/s3cr3t-path' },
    ],
  };

  it('drops credential-like URL path segments, queries and userinfo inside data, at any depth', () => {
    const shown = displayedDeadLetter(
      letter([
        'id',
        'evt-1',
        'type',
        'dependency:checked',
        'data',
        JSON.stringify({ satisfied: true, deployment }),
      ]),
    );
    const text = JSON.stringify(shown);
    for (const secret of ['XyzSecret', 's3cr3t-path', 'pw@', 'token=abc', 'hunter2']) {
      expect(text).not.toContain(secret);
    }
    const data = JSON.parse(shown.fields.data ?? '{}') as { deployment: typeof deployment };
    expect(data.deployment.notify.map((t) => t.url)).toEqual([
      'https://hooks.slack.com/services/[REDACTED]',
      'https://hooks.example.com/ci/[REDACTED]',
    ]);
    expect(data.deployment.healthCheck).toEqual({
      url: 'https://billing.internal/health?[REDACTED]',
      expectedStatus: 200,
    });
    expect(data.deployment.service).toBe('billing-api');
    expect(shown.error).toBe('connect ECONNREFUSED redis://ops:[REDACTED]@10.0.0.5:6379');
  });

  it('scrubs credentials from data that is not JSON and from other fields', () => {
    const shown = displayedDeadLetter(
      letter([
        'id',
        'evt-2',
        'data',
        '{broken https://u:p4ss@host/x?api_key=k3y',
        'note',
        'redis://:pw123@cache:6379',
      ]),
    );
    expect(shown.fields).toEqual({
      id: 'evt-2',
      data: '{broken https://u:[REDACTED]@host/x?api_key=[REDACTED]',
      note: 'redis://:[REDACTED]@cache:6379',
    });
  });

  it('leaves the stored entry untouched for replay', () => {
    const fields = ['data', JSON.stringify(deployment)];
    const entry = letter(fields);
    displayedDeadLetter(entry);
    expect(entry.fields).toEqual(['data', JSON.stringify(deployment)]);
  });
});
