import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors';
import { registerSecret } from '../logging/redact';
import type { AppConfig } from './app-config';
import { SETTINGS, type SettingDef, showValue } from './settings';
import { findCycle } from '../common/find-cycle';
import { WORKER_NAMES } from './worker-names';
import { allowListProblems, HostAllowList } from '../net/host-allow-list';

/** Raw flag values as given on the command line, keyed by flag name without dashes. */
export type FlagValues = Partial<Record<string, string | boolean>>;

export interface LoadOptions {
  flags?: FlagValues;
  env?: NodeJS.ProcessEnv;
  /** Folder with default.yaml and <environment>.yaml; PRINTERY_CONFIG_DIR or ./config otherwise. */
  configDir?: string;
}

interface FileLayer {
  label: string;
  values: Record<string, unknown>;
}

/**
 * Builds the effective configuration: flags > environment > config files
 * (`default.yaml`, then `<environment>.yaml`) > built-in defaults. Every
 * problem is collected before failing so the operator sees them all at once.
 *
 * @throws ConfigError listing one line per problem.
 */
export function loadConfig(options: LoadOptions = {}): AppConfig {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const problems: string[] = [];
  const configDir = resolveConfigDir(options.configDir ?? env.PRINTERY_CONFIG_DIR);

  const layers: FileLayer[] = [];
  const base = readLayer(join(configDir, 'default.yaml'), problems);
  if (base) {
    layers.push(base);
  }
  // The environment picks the overlay file, so it is resolved from the layers read so far.
  const environmentDef = SETTINGS.find((def) => def.path === 'environment');
  const environment = environmentDef && pick(environmentDef, flags, env, layers);
  if (typeof environment?.raw === 'string') {
    const overlay = readLayer(join(configDir, `${environment.raw.trim()}.yaml`), problems);
    if (overlay) {
      layers.push(overlay);
    }
  }
  for (const layer of layers) {
    checkUnknownKeys(layer, problems);
  }

  const out: Record<string, unknown> = {};
  for (const def of SETTINGS) {
    const chosen = pick(def, flags, env, layers);
    if (!chosen) {
      setPath(out, def.path, def.default);
      continue;
    }
    const parsed = def.parse(chosen.raw);
    if (parsed.ok) {
      setPath(out, def.path, parsed.value);
    } else {
      problems.push(
        `${chosen.source}: ${showValue(def, chosen.raw)} is not valid; expected ${parsed.expected}`,
      );
      setPath(out, def.path, def.default);
    }
  }

  const config = out as unknown as AppConfig;
  problems.push(...crossChecks(config));
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  registerSecrets(config);
  return config;
}

function resolveConfigDir(given: string | undefined): string {
  if (given) {
    return resolve(given);
  }
  const local = resolve('config');
  // Fall back to the folder shipped with the package when started from elsewhere.
  return existsSync(local) ? local : resolve(__dirname, '..', '..', 'config');
}

function readLayer(file: string, problems: string[]): FileLayer | undefined {
  if (!existsSync(file)) {
    return undefined;
  }
  const label = relative(process.cwd(), file) || file;
  try {
    const values: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (values === null || values === undefined) {
      return { label, values: {} };
    }
    if (typeof values !== 'object' || Array.isArray(values)) {
      problems.push(`${label}: must be a YAML mapping of settings`);
      return undefined;
    }
    return { label, values: values as Record<string, unknown> };
  } catch (error) {
    problems.push(`${label}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

interface Chosen {
  raw: unknown;
  source: string;
}

function pick(
  def: SettingDef,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  layers: FileLayer[],
): Chosen | undefined {
  if (def.flag && flags[def.flag] !== undefined) {
    return { raw: flags[def.flag], source: `--${def.flag}` };
  }
  if (def.env && env[def.env] !== undefined && env[def.env] !== '') {
    return { raw: env[def.env], source: def.env };
  }
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const layer = layers[i];
    const value = layer && getPath(layer.values, def.path);
    if (layer && value !== undefined && value !== null) {
      return { raw: value, source: `${layer.label}: ${def.path}` };
    }
  }
  return undefined;
}

function checkUnknownKeys(layer: FileLayer, problems: string[]): void {
  const known = new Set(SETTINGS.map((def) => def.path));
  const prefixes = new Set(
    SETTINGS.flatMap((def) =>
      def.path
        .split('.')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('.')),
    ),
  );
  const walk = (value: Record<string, unknown>, prefix: string): void => {
    for (const [key, item] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (known.has(path)) {
        continue;
      }
      if (prefixes.has(path) && item !== null && typeof item === 'object' && !Array.isArray(item)) {
        walk(item as Record<string, unknown>, path);
        continue;
      }
      problems.push(`${layer.label}: unknown setting "${path}"`);
    }
  };
  walk(layer.values, '');
}

function crossChecks(config: AppConfig): string[] {
  const problems: string[] = [];
  const { supervisor, validation, environment } = config;
  if (supervisor.restartBackoffMaxMs < supervisor.restartBackoffMs) {
    problems.push(
      `RESTART_BACKOFF_MAX_MS: ${supervisor.restartBackoffMaxMs} is below RESTART_BACKOFF_MS (${supervisor.restartBackoffMs}); expected a cap >= the initial backoff`,
    );
  }
  if (supervisor.hangThresholdMs <= config.streams.blockMs) {
    // A read blocks up to STREAM_BLOCK_MS between polls; a shorter hang bound
    // would report every idle worker as hung.
    problems.push(
      `HANG_THRESHOLD_MS: ${supervisor.hangThresholdMs} is not above STREAM_BLOCK_MS (${config.streams.blockMs}); expected a hang bound longer than one blocking read`,
    );
  }
  const cycle = findCycle(WORKER_NAMES, (name) => config.workers[name].dependsOn);
  if (cycle) {
    problems.push(
      `workers.*.dependsOn: dependency cycle ${cycle.join(' -> ')}; expected an acyclic graph`,
    );
  }
  problems.push(...defaultWebhookChecks(config));
  if (environment !== 'development') {
    if (validation.healthCheckAllowedHosts.length === 0) {
      problems.push(
        `HEALTHCHECK_ALLOWED_HOSTS: empty in ${environment}; expected the hosts health checks may reach (exact, *.suffix or CIDR)`,
      );
    }
    if (validation.notifyAllowedHosts.length === 0) {
      problems.push(
        `NOTIFY_ALLOWED_HOSTS: empty in ${environment}; expected the hosts notifications may reach (exact, *.suffix or CIDR)`,
      );
    }
  }
  return problems;
}

/**
 * A default webhook the Notifier's allow-list refuses would be silently
 * skipped on every notification. Only the host is named: the URL's path and
 * credentials are secrets.
 */
function defaultWebhookChecks(config: AppConfig): string[] {
  const hosts = config.validation.notifyAllowedHosts;
  if (hosts.length === 0 || allowListProblems(hosts).length > 0) {
    // Empty: any public host (dev only, checked above); bad entries are reported on their own.
    return [];
  }
  const allowList = new HostAllowList(hosts);
  const problems: string[] = [];
  for (const raw of config.notify.webhookUrls) {
    let host: string;
    try {
      host = new URL(raw).hostname;
    } catch {
      continue;
    }
    const check = allowList.checkHost(host);
    if (check.allowed) {
      continue;
    }
    problems.push(
      check.reason.endsWith('is not allowed')
        ? `NOTIFY_WEBHOOK_URLS: host "${host}" is not in NOTIFY_ALLOWED_HOSTS; expected every default webhook's host to be allowed there (exact, *.suffix, IP or CIDR)`
        : `NOTIFY_WEBHOOK_URLS: host "${host}" is refused (${check.reason}); expected a host NOTIFY_ALLOWED_HOSTS permits`,
    );
  }
  return problems;
}

function registerSecrets(config: AppConfig): void {
  registerSecret(config.notify.webhookSecret);
  try {
    const url = new URL(config.redis.url);
    registerSecret(decodeURIComponent(url.password));
    registerSecret(url.password);
  } catch {
    // Already validated; nothing to register.
  }
}

function getPath(source: Record<string, unknown>, path: string): unknown {
  let current: unknown = source;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let current = target;
  for (const part of parts.slice(0, -1)) {
    current[part] ??= {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts[parts.length - 1] as string] = value;
}
