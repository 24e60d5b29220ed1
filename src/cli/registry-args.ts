import type { AppConfig } from '../config';
import { Option } from 'nest-commander';
import { type CommandOptions, stringOption, TabularCommand, usageError } from './one-shot';

/** DNS-1123 label, the form SPEC §1 requires of service names. */
const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkService(service: string | undefined, label: string, problems: string[]): void {
  if (service === undefined || !SERVICE_NAME.test(service)) {
    problems.push(
      `${label}: ${JSON.stringify(service ?? '')} is not valid; expected a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`,
    );
  }
}

export function checkEnvironment(
  environment: string | undefined,
  config: AppConfig,
  problems: string[],
  required: boolean,
): void {
  if (environment === undefined) {
    if (required) {
      problems.push(
        `--environment: required; expected one of ${config.validation.deployEnvironments.join(', ')}`,
      );
    }
    return;
  }
  if (!config.validation.deployEnvironments.includes(environment)) {
    problems.push(
      `--environment: ${JSON.stringify(environment)} is not valid; expected one of ${config.validation.deployEnvironments.join(', ')} (DEPLOY_ENVIRONMENTS)`,
    );
  }
}

/** What the registry commands read from the configuration (SPEC §5: they check only that). */
export const REGISTRY_USES: readonly string[] = [
  'redis',
  'streams',
  'validation.deployEnvironments',
];

/**
 * `registry show|remove SERVICE [--environment E]`: the one service argument
 * and the environment, every problem listed at once.
 *
 * @throws ConfigError (exit 2) on a bad or missing argument.
 */
export function serviceTarget(
  verb: string,
  args: string[],
  options: CommandOptions,
  config: AppConfig,
  environmentRequired: boolean,
): { service: string; environment: string | undefined } {
  const problems: string[] = [];
  const [service, extra] = args;
  if (extra !== undefined) {
    problems.push(`registry ${verb}: unexpected argument "${extra}"`);
  }
  checkService(service, 'SERVICE', problems);
  const environment = stringOption(options, 'environment');
  checkEnvironment(environment, config, problems, environmentRequired);
  if (problems.length > 0 || service === undefined) {
    throw usageError(...problems);
  }
  return { service, environment };
}

/** `registry list` and `registry show`: a table or JSON, of one environment (--environment) or all. */
export abstract class RegistryReadCommand extends TabularCommand {
  protected override readonly uses = REGISTRY_USES;

  @Option({ flags: '--environment <name>', description: 'only this deployment environment' })
  parseEnvironment(value: string): string {
    return value;
  }
}
