import { redactDeep, redactText, redactUrlPath, registerSecret } from './redact';

describe('redactText', () => {
  it('removes the password from credentialed URLs and keeps the user and host', () => {
    expect(redactText('connect redis://app:s3cr3t-pw@db.internal:6379/2 failed')).toBe(
      'connect redis://app:[REDACTED]@db.internal:6379/2 failed',
    );
    expect(redactText('rediss://:onlypass@cache:6380')).toBe('rediss://:[REDACTED]@cache:6380');
    expect(redactText('https://ghp_token123@git.example')).toBe('https://[REDACTED]@git.example');
  });

  it('removes a password that itself contains @', () => {
    expect(redactText('redis://user:s3cr@t@127.0.0.1:6411/0')).toBe(
      'redis://user:[REDACTED]@127.0.0.1:6411/0',
    );
    expect(redactText('from redis://:p@ss@db:1 and redis://u:x@h:2')).toBe(
      'from redis://:[REDACTED]@db:1 and redis://u:[REDACTED]@h:2',
    );
  });

  it('removes credential-like query parameters', () => {
    expect(redactText('https://hooks.example/x?token=abc&x=1')).toBe(
      'https://hooks.example/x?token=[REDACTED]&x=1',
    );
  });

  it('removes registered secret values wherever they appear', () => {
    registerSecret('wh-secret-value');
    expect(redactText('signing with wh-secret-value now')).toBe('signing with [REDACTED] now');
  });
});

describe('redactDeep', () => {
  it('blanks secret-looking keys and scrubs nested strings and errors', () => {
    const error = new Error('WRONGPASS for redis://u:pw1234@h:1');
    const out = redactDeep({ password: 'x', nested: { url: 'redis://u:pw1234@h:1' }, err: error });
    expect(out.password).toBe('[REDACTED]');
    expect(out.nested.url).toBe('redis://u:[REDACTED]@h:1');
    expect(out.err.message).toBe('WRONGPASS for redis://u:[REDACTED]@h:1');
    expect(error.message).toContain('pw1234');
  });
});

describe('redactUrlPath', () => {
  it('keeps scheme and host and hides the path from its first credential-like segment', () => {
    expect(redactUrlPath('https://hooks.slack.example/T0/B0/secret')).toBe(
      'https://hooks.slack.example/[REDACTED]',
    );
    expect(redactUrlPath('https://hooks.example/services/T000/B000/tok-xyz')).toBe(
      'https://hooks.example/services/[REDACTED]',
    );
    expect(redactUrlPath('https://discord.example/api/webhooks/123456789012345678/abc')).toBe(
      'https://discord.example/api/webhooks/[REDACTED]',
    );
    expect(redactUrlPath('https://h.example/hooks/zqxwvutsrponmlkjihgfedcba')).toBe(
      'https://h.example/hooks/[REDACTED]',
    );
    expect(redactUrlPath('https://h.example/notify/my-token')).toBe(
      'https://h.example/notify/[REDACTED]',
    );
  });

  it('keeps a plain path, which names the target without a credential', () => {
    expect(redactUrlPath('https://hooks.example.com/deploys')).toBe(
      'https://hooks.example.com/deploys',
    );
    expect(redactUrlPath('http://127.0.0.1:8080/api/v2/printery-hook/')).toBe(
      'http://127.0.0.1:8080/api/v2/printery-hook/',
    );
  });

  it('drops userinfo and query strings, keeps nothing of them', () => {
    expect(redactUrlPath('https://user:pw@hooks.example:8443')).toBe('https://hooks.example:8443');
    expect(redactUrlPath('https://hooks.example/deploys?token=abc#x')).toBe(
      'https://hooks.example/deploys?[REDACTED]',
    );
    expect(redactUrlPath('not a url')).toBe('[REDACTED]');
  });
});
