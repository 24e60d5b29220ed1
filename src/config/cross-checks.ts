import type { AppConfig } from './app-config';
import { findCycle } from '../common/find-cycle';
import { WORKER_NAMES } from './worker-names';
import { allowListProblems, HostAllowList } from '../net/host-allow-list';
import type { ConfigProblem, ValueSource } from './config-problem';
import { redisTopologyProblems } from './redis-topology';

/**
 * Problems between settings that are each valid alone. Each names the
 * settings whose use makes it matter, so a command that does not use them
 * (`status` does not care about restart backoff) is not refused for it.
 */
export function crossChecks(
  config: AppConfig,
  sources: Record<string, ValueSource> = {},
): ConfigProblem[] {
  const problems: ConfigProblem[] = [...redisTopologyProblems(config, sources)];
  const { supervisor, validation, environment } = config;
  if (supervisor.restartBackoffMaxMs < supervisor.restartBackoffMs) {
    problems.push({
      settings: ['supervisor.restartBackoffMaxMs', 'supervisor.restartBackoffMs'],
      text: `RESTART_BACKOFF_MAX_MS: ${supervisor.restartBackoffMaxMs} is below RESTART_BACKOFF_MS (${supervisor.restartBackoffMs}); expected a cap >= the initial backoff`,
    });
  }
  if (supervisor.hangThresholdMs <= config.streams.blockMs) {
    // A read blocks up to STREAM_BLOCK_MS between polls; a shorter hang bound
    // would report every idle worker as hung.
    problems.push({
      settings: ['supervisor.hangThresholdMs'],
      text: `HANG_THRESHOLD_MS: ${supervisor.hangThresholdMs} is not above STREAM_BLOCK_MS (${config.streams.blockMs}); expected a hang bound longer than one blocking read`,
    });
  }
  const cycle = findCycle(WORKER_NAMES, (name) => config.workers[name].dependsOn);
  if (cycle) {
    problems.push({
      settings: ['workers'],
      text: `workers.*.dependsOn: dependency cycle ${cycle.join(' -> ')}; expected an acyclic graph`,
    });
  }
  problems.push(...defaultWebhookChecks(config));
  if (environment !== 'development') {
    if (validation.healthCheckAllowedHosts.length === 0) {
      problems.push({
        settings: ['validation.healthCheckAllowedHosts'],
        text: `HEALTHCHECK_ALLOWED_HOSTS: empty in ${environment}; expected the hosts health checks may reach (exact, *.suffix or CIDR)`,
      });
    }
    if (validation.notifyAllowedHosts.length === 0) {
      problems.push({
        settings: ['validation.notifyAllowedHosts'],
        text: `NOTIFY_ALLOWED_HOSTS: empty in ${environment}; expected the hosts notifications may reach (exact, *.suffix or CIDR)`,
      });
    }
  }
  return problems;
}

/**
 * A default webhook the Notifier's allow-list refuses would be silently
 * skipped on every notification. Only the host is named: the URL's path and
 * credentials are secrets.
 */
function defaultWebhookChecks(config: AppConfig): ConfigProblem[] {
  const hosts = config.validation.notifyAllowedHosts;
  if (hosts.length === 0 || allowListProblems(hosts).length > 0) {
    // Empty: any public host (dev only, checked above); bad entries are reported on their own.
    return [];
  }
  const allowList = new HostAllowList(hosts);
  const problems: ConfigProblem[] = [];
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
    problems.push({
      settings: ['notify.webhookUrls'],
      text: check.reason.endsWith('is not allowed')
        ? `NOTIFY_WEBHOOK_URLS: host "${host}" is not in NOTIFY_ALLOWED_HOSTS; expected every default webhook's host to be allowed there (exact, *.suffix, IP or CIDR)`
        : `NOTIFY_WEBHOOK_URLS: host "${host}" is refused (${check.reason}); expected a host NOTIFY_ALLOWED_HOSTS permits`,
    });
  }
  return problems;
}
