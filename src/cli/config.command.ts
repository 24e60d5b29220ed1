import { Command, Option } from 'nest-commander';
import { stringify } from 'yaml';
import { type AppConfig, loadConfig } from '../config';
import { REDACTED_MARK, redactText, redactUrlPath } from '../logging/redact';
import { ConfigFlagsCommand } from './config-flags';
import { reportError } from './report-error';

/** The effective configuration as it is safe to show: no password, secret or webhook path. */
export function printableConfig(config: AppConfig): AppConfig {
  return {
    ...config,
    redis: { ...config.redis, url: redactText(config.redis.url) },
    notify: {
      ...config.notify,
      webhookUrls: config.notify.webhookUrls.map(redactUrlPath),
      webhookSecret: config.notify.webhookSecret ? REDACTED_MARK : undefined,
    },
  };
}

@Command({
  name: 'config',
  description: 'print the effective configuration (secrets redacted); exit 2 when it is invalid',
})
export class ConfigCommand extends ConfigFlagsCommand {
  private json = false;

  run(): Promise<void> {
    try {
      const config = printableConfig(loadConfig({ flags: this.flags }));
      process.stdout.write(this.json ? `${JSON.stringify(config, null, 2)}\n` : stringify(config));
    } catch (error) {
      process.exitCode = reportError(error);
    }
    return Promise.resolve();
  }

  @Option({ flags: '--json', description: 'print JSON instead of YAML' })
  parseJson(): boolean {
    return (this.json = true);
  }
}
