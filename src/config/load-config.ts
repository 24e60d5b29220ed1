import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors';
import { registerSecret } from '../logging/redact';
import type { AppConfig } from './app-config';
import { SETTINGS, type SettingDef } from './settings';
import { showValue } from './show-value';
import { type ConfigProblem, problemApplies, type ValueSource } from './config-problem';
import { crossChecks } from './cross-checks';
import { tracingSecrets } from './tracing-settings';

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

/** The configuration as resolved, before anyone refuses it: what `config` prints. */
export interface ConfigReport {
  /** Every value; an invalid one holds its default (see `invalid`). */
  config: AppConfig;
  /** Where each setting's value came from, by dotted path. */
  sources: Record<string, ValueSource>;
  /** Raw values that did not parse, by dotted path (still unmasked). */
  invalid: Record<string, unknown>;
  problems: ConfigProblem[];
}

/**
 * Builds the effective configuration: flags > environment > config files
 * (`default.yaml`, then `<environment>.yaml`) > built-in defaults. Every
 * problem is collected, never thrown, so `config` can show both.
 */
export function resolveConfig(options: LoadOptions = {}): ConfigReport {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const problems: ConfigProblem[] = [];
  const fileProblems: string[] = [];
  const configDir = resolveConfigDir(options.configDir ?? env.PRINTERY_CONFIG_DIR, fileProblems);

  const layers: FileLayer[] = [];
  const base = configDir && readLayer(join(configDir, 'default.yaml'), fileProblems);
  if (base) {
    layers.push(base);
  }
  // The environment picks the overlay file, so it is resolved from the layers read so far.
  const environmentDef = SETTINGS.find((def) => def.path === 'environment');
  const environment = environmentDef && pick(environmentDef, flags, env, layers);
  if (configDir && typeof environment?.raw === 'string') {
    const overlay = readLayer(join(configDir, `${environment.raw.trim()}.yaml`), fileProblems);
    if (overlay) {
      layers.push(overlay);
    }
  }
  for (const layer of layers) {
    checkUnknownKeys(layer, fileProblems);
  }
  problems.push(...fileProblems.map((text) => ({ text, settings: [] })));

  const out: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  const invalid: Record<string, unknown> = {};
  for (const def of SETTINGS) {
    const chosen = pick(def, flags, env, layers);
    sources[def.path] = chosen?.source ?? { from: 'default' };
    if (!chosen) {
      setPath(out, def.path, def.default);
      continue;
    }
    const parsed = def.parse(chosen.raw);
    if (parsed.ok) {
      setPath(out, def.path, parsed.value);
    } else {
      problems.push({
        settings: [def.path],
        text: `${chosen.label}: ${showValue(def, chosen.raw)} is not valid; expected ${parsed.expected}`,
      });
      invalid[def.path] = chosen.raw;
      setPath(out, def.path, def.default);
    }
  }

  const config = out as unknown as AppConfig;
  problems.push(...crossChecks(config, sources));
  registerSecrets(config);
  return { config, sources, invalid, problems };
}

/**
 * The effective configuration for a command that uses the settings in
 * `options.uses` (paths or prefixes; all when absent): problems elsewhere
 * do not refuse it (SPEC §5, "a command checks only what it uses").
 *
 * @throws ConfigError listing one line per problem that applies.
 */
export function loadConfig(options: LoadOptions & { uses?: readonly string[] } = {}): AppConfig {
  const report = resolveConfig(options);
  const applies = report.problems.filter((problem) => problemApplies(problem, options.uses));
  if (applies.length > 0) {
    throw new ConfigError(applies.map((problem) => problem.text));
  }
  return report.config;
}

function resolveConfigDir(given: string | undefined, problems: string[]): string | undefined {
  if (given) {
    const dir = resolve(given);
    // A mistyped folder must not silently fall back to the built-in defaults.
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      problems.push(
        `PRINTERY_CONFIG_DIR: ${JSON.stringify(given)} is not a folder; expected a folder holding default.yaml and/or <ENVIRONMENT>.yaml (unset: ./config)`,
      );
      return undefined;
    }
    return dir;
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
  /** How a problem line names it: `--port`, `PORT`, `config/default.yaml: port`. */
  label: string;
  source: ValueSource;
}

function pick(
  def: SettingDef,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  layers: FileLayer[],
): Chosen | undefined {
  if (def.flag && flags[def.flag] !== undefined) {
    return {
      raw: flags[def.flag],
      label: `--${def.flag}`,
      source: { from: 'flag', name: `--${def.flag}` },
    };
  }
  if (def.env && env[def.env] !== undefined && env[def.env] !== '') {
    return { raw: env[def.env], label: def.env, source: { from: 'environment', name: def.env } };
  }
  if (def.envOnly) {
    return undefined;
  }
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const layer = layers[i];
    const value = layer && getPath(layer.values, def.path);
    if (layer && value !== undefined && value !== null) {
      return {
        raw: value,
        label: `${layer.label}: ${def.path}`,
        source: { from: 'file', name: layer.label },
      };
    }
  }
  return undefined;
}

function checkUnknownKeys(layer: FileLayer, problems: string[]): void {
  const known = new Set(SETTINGS.filter((def) => !def.envOnly).map((def) => def.path));
  const envOnly = new Map(SETTINGS.filter((def) => def.envOnly).map((def) => [def.path, def.env]));
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
      if (envOnly.has(path)) {
        problems.push(
          `${layer.label}: "${path}" is read from the environment only; set ${envOnly.get(path)} instead`,
        );
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

function registerSecrets(config: AppConfig): void {
  registerSecret(config.notify.webhookSecret);
  registerSecret(config.redis.password);
  registerSecret(config.redis.sentinelPassword);
  tracingSecrets(config.tracing).forEach(registerSecret);
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
