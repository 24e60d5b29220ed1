import type { AppConfig } from '../config';

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
