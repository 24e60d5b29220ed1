import { Command, Option } from 'nest-commander';
import { Document, isCollection, isScalar } from 'yaml';
import { type AppConfig, SETTINGS } from '../config';
import { type ConfigReport, resolveConfig } from '../config/load-config';
import { describeSource } from '../config/config-problem';
import { showValue } from '../config/show-value';
import { redisTopologyKind } from '../config/redis-topology';
import { printableTracing } from '../config/tracing-settings';
import { ConfigError } from '../errors';
import { REDACTED_MARK, redactText, redactUrlPath } from '../logging/redact';
import { ConfigFlagsCommand } from './config-flags';
import { EXIT } from './exit-codes';
import { reportError } from './report-error';

/** The effective configuration as it is safe to show: no password, secret or webhook token. */
export function printableConfig(config: AppConfig): AppConfig {
  return {
    ...config,
    redis: {
      ...config.redis,
      url: redactText(config.redis.url),
      password: config.redis.password ? REDACTED_MARK : undefined,
      sentinelPassword: config.redis.sentinelPassword ? REDACTED_MARK : undefined,
    },
    notify: {
      ...config.notify,
      webhookUrls: config.notify.webhookUrls.map(redactUrlPath),
      webhookSecret: config.notify.webhookSecret ? REDACTED_MARK : undefined,
    },
    tracing: printableTracing(config.tracing),
  };
}

/**
 * What `config` shows: every value, and in place of an invalid one the value
 * as given (masked like an error line), so the problem can be found in it.
 */
function shownConfig(report: ConfigReport): Record<string, unknown> {
  const printable = printableConfig(report.config);
  // Which topology the settings choose (SPEC §2), first in its section.
  const shown = structuredClone({
    ...printable,
    redis: { topology: redisTopologyKind(report.config.redis), ...printable.redis },
  }) as unknown as Record<string, unknown>;
  for (const def of SETTINGS) {
    if (def.path in report.invalid) {
      const parts = def.path.split('.');
      const parent = parts
        .slice(0, -1)
        .reduce<Record<string, unknown>>(
          (node, part) => node[part] as Record<string, unknown>,
          shown,
        );
      parent[parts[parts.length - 1] as string] = JSON.parse(
        showValue(def, report.invalid[def.path]).replace(/^\(hidden\)$/, '"(hidden)"'),
      );
    }
  }
  return shown;
}

/** YAML with each value's source as a trailing comment: `port: 3333 # flag --port`. */
function annotatedYaml(report: ConfigReport, shown: Record<string, unknown>): string {
  const doc = new Document(shown);
  for (const def of SETTINGS) {
    const node = doc.getIn(def.path.split('.'), true);
    if (!isScalar(node) && !isCollection(node)) {
      continue; // An unset optional value (no webhook secret) is not printed.
    }
    if (isCollection(node)) {
      node.flow = true; // Keeps the comment on the key's line.
    }
    const source = report.sources[def.path] ?? { from: 'default' };
    node.comment = ` ${describeSource(source)}${def.path in report.invalid ? ' (INVALID)' : ''}`;
  }
  return doc.toString();
}

@Command({
  name: 'config',
  description:
    'print the effective configuration (secrets redacted) and where each value came from (default, file, environment, flag); when it is invalid, print it, then its problems, and exit 2',
})
export class ConfigCommand extends ConfigFlagsCommand {
  private json = false;

  run(): Promise<void> {
    try {
      const report = resolveConfig({ flags: this.flags });
      const shown = shownConfig(report);
      const problems = report.problems.map((problem) => problem.text);
      process.stdout.write(
        this.json
          ? `${JSON.stringify({ config: shown, sources: report.sources, problems }, null, 2)}\n`
          : annotatedYaml(report, shown),
      );
      process.exitCode = problems.length > 0 ? reportError(new ConfigError(problems)) : EXIT.ok;
    } catch (error) {
      process.exitCode = reportError(error);
    }
    return Promise.resolve();
  }

  @Option({
    flags: '--json',
    description: 'print JSON instead of YAML: { config, sources, problems }',
  })
  parseJson(): boolean {
    return (this.json = true);
  }
}
