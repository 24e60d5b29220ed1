import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactText } from '../logging/redact';
import { resolveConfig } from './load-config';
import { printableTracing, tracingEnabled } from './tracing-settings';

describe('the OpenTelemetry settings', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'printery-config-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const resolve = (env: NodeJS.ProcessEnv) => resolveConfig({ env, configDir: dir });

  it('leave tracing off, with the service name and sampler defaults, when no endpoint is set', () => {
    const { config, problems } = resolve({});
    expect(problems).toEqual([]);
    expect(tracingEnabled(config.tracing)).toBe(false);
    expect(config.tracing).toMatchObject({
      protocol: 'http/protobuf',
      serviceName: 'printery-workers',
      sampler: 'parentbased_always_on',
    });
  });

  it('turn tracing on with either endpoint, and off again with OTEL_SDK_DISABLED', () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingEnabled(resolve(base).config.tracing)).toBe(true);
    expect(
      tracingEnabled(
        resolve({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).config
          .tracing,
      ),
    ).toBe(true);
    expect(tracingEnabled(resolve({ ...base, OTEL_SDK_DISABLED: 'TRUE' }).config.tracing)).toBe(
      false,
    );
  });

  it('refuse values the SDK would silently replace by its defaults, naming the variable', () => {
    const { problems } = resolve({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'jaeger_remote',
      OTEL_TRACES_SAMPLER_ARG: '1.5',
      OTEL_RESOURCE_ATTRIBUTES: 'no-equals-sign',
    });
    expect(problems.map((problem) => problem.text)).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" is not valid; expected an http(s) URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318',
      'OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not valid; expected one of http/protobuf, http/json',
      'OTEL_RESOURCE_ATTRIBUTES: "no-equals-sign" is not valid; expected a comma list of key=value attributes, e.g. deployment.environment.name=staging',
      'OTEL_TRACES_SAMPLER: "jaeger_remote" is not valid; expected one of parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio',
      'OTEL_TRACES_SAMPLER_ARG: "1.5" is not valid; expected a sampling ratio from 0 to 1, e.g. 0.25',
    ]);
  });

  it('never echo the headers, and mask a credential in an endpoint that does not parse', () => {
    const { problems } = resolve({
      OTEL_EXPORTER_OTLP_HEADERS: 'justasecretvalue',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://user:pa55word@collector/v1/traces',
    });
    const text = problems.map((problem) => problem.text).join('\n');
    expect(text).toContain('OTEL_EXPORTER_OTLP_HEADERS: (hidden) is not valid');
    expect(text).toContain('ftp://user:[REDACTED]@collector/v1/traces');
    expect(text).not.toMatch(/justasecretvalue|pa55word/);
  });

  it('register the header values as secrets, so they are scrubbed wherever they appear', () => {
    const { config } = resolve({
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20tok-123456,x-team=platform',
    });
    expect(redactText('export failed with Bearer tok-123456')).not.toContain('tok-123456');
    expect(printableTracing(config.tracing).headers).toBe(
      'authorization=[REDACTED],x-team=[REDACTED]',
    );
  });

  it('are read from the environment only: a config file naming one is refused', () => {
    writeFileSync(join(dir, 'default.yaml'), 'tracing:\n  endpoint: http://collector:4318\n');
    const { config, problems } = resolve({});
    expect(tracingEnabled(config.tracing)).toBe(false);
    expect(problems.map((problem) => problem.text)).toEqual([
      expect.stringMatching(
        /default\.yaml: "tracing\.endpoint" is read from the environment only; set OTEL_EXPORTER_OTLP_ENDPOINT instead$/,
      ),
    ]);
  });
});
