import { REDACTED_MARK, redactText } from '../logging/redact';
import type { Parsed, SettingDef } from './settings';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The samplers OpenTelemetry's JavaScript SDK builds from OTEL_TRACES_SAMPLER. */
export const TRACE_SAMPLERS = [
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
  'always_on',
  'always_off',
  'traceidratio',
] as const;

/**
 * OpenTelemetry's standard variables (SPEC §8). The SDK reads them from the
 * environment itself (endpoint, headers, sampler, resource); they are here
 * so that the service knows whether tracing is on, refuses a value the SDK
 * would silently replace by a default, and `config` shows them.
 */
export interface TracingConfig {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (traces go to `/v1/traces` under it). */
  endpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full traces URL; wins over `endpoint`. */
  tracesEndpoint: string | undefined;
  protocol: OtlpProtocol;
  /** OTEL_EXPORTER_OTLP_HEADERS as given (`key=value,…`): a secret, parsed by the SDK. */
  headers: string | undefined;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES as given (`key=value,…`). */
  resourceAttributes: string | undefined;
  sampler: (typeof TRACE_SAMPLERS)[number];
  samplerArg: number | undefined;
  /** OTEL_SDK_DISABLED=true turns tracing off whatever else is set. */
  sdkDisabled: boolean;
}

/** Tracing is on when a collector endpoint is set and the SDK is not disabled (SPEC §8). */
export function tracingEnabled(config: TracingConfig): boolean {
  return !config.sdkDisabled && (config.endpoint ?? config.tracesEndpoint) !== undefined;
}

const ok = (value: unknown): Parsed => ({ ok: true, value });
const bad = (expected: string): Parsed => ({ ok: false, expected });

const httpUrl = (raw: unknown): Parsed => {
  const text = typeof raw === 'string' ? raw.trim() : '';
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      return ok(text);
    }
  } catch {
    // Falls through to the refusal.
  }
  return bad('an http(s) URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318');
};

/** `key=value` pairs separated by commas, as OpenTelemetry's list variables are written. */
function keyValueList(what: string): (raw: unknown) => Parsed {
  return (raw) => {
    const text = typeof raw === 'string' ? raw.trim() : '';
    const pairs = text.split(',').filter((item) => item.trim() !== '');
    const valid =
      pairs.length > 0 &&
      pairs.every((pair) => pair.indexOf('=') > 0 && pair.slice(0, pair.indexOf('=')).trim());
    return valid ? ok(text) : bad(`a comma list of key=value ${what}`);
  };
}

const oneOf =
  (values: readonly string[]) =>
  (raw: unknown): Parsed => {
    const text = typeof raw === 'string' ? raw.trim() : '';
    return values.includes(text) ? ok(text) : bad(`one of ${values.join(', ')}`);
  };

const ratio = (raw: unknown): Parsed => {
  const value = typeof raw === 'number' ? raw : Number(typeof raw === 'string' ? raw.trim() : NaN);
  return Number.isFinite(value) && value >= 0 && value <= 1
    ? ok(value)
    : bad('a sampling ratio from 0 to 1, e.g. 0.25');
};

const trueOrFalse = (raw: unknown): Parsed => {
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : String(raw);
  return text === 'true' || text === 'false' ? ok(text === 'true') : bad('true or false');
};

const nonEmpty = (raw: unknown): Parsed =>
  typeof raw === 'string' && raw.trim() !== '' ? ok(raw.trim()) : bad('a non-empty name');

/** Environment only: OpenTelemetry's SDK reads these variables itself, not config files. */
export const TRACING_SETTINGS: SettingDef[] = [
  {
    path: 'tracing.endpoint',
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    default: undefined,
    parse: httpUrl,
    secret: true,
    envOnly: true,
  },
  {
    path: 'tracing.tracesEndpoint',
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    default: undefined,
    parse: httpUrl,
    secret: true,
    envOnly: true,
  },
  {
    path: 'tracing.protocol',
    env: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    default: 'http/protobuf',
    parse: oneOf(OTLP_PROTOCOLS),
    envOnly: true,
  },
  {
    path: 'tracing.headers',
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    default: undefined,
    parse: keyValueList('headers, e.g. x-api-key=…'),
    secret: true,
    envOnly: true,
  },
  {
    path: 'tracing.serviceName',
    env: 'OTEL_SERVICE_NAME',
    default: 'printery-workers',
    parse: nonEmpty,
    envOnly: true,
  },
  {
    path: 'tracing.resourceAttributes',
    env: 'OTEL_RESOURCE_ATTRIBUTES',
    default: undefined,
    parse: keyValueList('attributes, e.g. deployment.environment.name=staging'),
    envOnly: true,
  },
  {
    path: 'tracing.sampler',
    env: 'OTEL_TRACES_SAMPLER',
    default: 'parentbased_always_on',
    parse: oneOf(TRACE_SAMPLERS),
    envOnly: true,
  },
  {
    path: 'tracing.samplerArg',
    env: 'OTEL_TRACES_SAMPLER_ARG',
    default: undefined,
    parse: ratio,
    envOnly: true,
  },
  {
    path: 'tracing.sdkDisabled',
    env: 'OTEL_SDK_DISABLED',
    default: false,
    parse: trueOrFalse,
    envOnly: true,
  },
];

/** Each header's value, raw and URL-decoded: scrubbed wherever it might later appear. */
export function tracingSecrets(config: TracingConfig): string[] {
  return keyValues(config.headers).flatMap(([, value]) => {
    try {
      return [value, decodeURIComponent(value)];
    } catch {
      return [value];
    }
  });
}

/** The tracing settings as `config` shows them: header names without their values, URLs redacted. */
export function printableTracing(config: TracingConfig): TracingConfig {
  const headers = keyValues(config.headers);
  return {
    ...config,
    endpoint: config.endpoint === undefined ? undefined : redactText(config.endpoint),
    tracesEndpoint:
      config.tracesEndpoint === undefined ? undefined : redactText(config.tracesEndpoint),
    headers:
      headers.length === 0
        ? undefined
        : headers.map(([name]) => `${name}=${REDACTED_MARK}`).join(','),
  };
}

function keyValues(list: string | undefined): Array<[string, string]> {
  return (list ?? '')
    .split(',')
    .map((pair) => pair.trim())
    .filter((pair) => pair.includes('='))
    .map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    });
}
