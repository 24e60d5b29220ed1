import { Command, Option } from 'nest-commander';
import { parseDuration } from '../config';
import { redactText } from '../logging/redact';
import { type GroupDetails, readGroupDetails } from '../streams/stream-stats';
import { EXIT } from './exit-codes';
import { type CommandOptions, TabularCommand, topologyOf, usageError, withRedis } from './one-shot';
import {
  formatAge,
  isTerminal,
  paint,
  renderTable,
  truncate,
  writeJson,
  writeLine,
} from './output';
import { registryEnvironments } from './registry-keys';

const DEFAULT_MAX_LAG = 1000;

interface InstanceWorker {
  name: string;
  state: string;
  healthy: boolean;
  restarts: number;
  uptimeSeconds: number;
  inFlight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  lastError: string | null;
}

interface InstanceStatus {
  url: string;
  reachable: boolean;
  error?: string;
  ready?: boolean;
  shuttingDown?: boolean;
  workers: InstanceWorker[];
}

/** What `status --json` prints. */
export interface StatusReport {
  redis: string;
  streamPrefix: string;
  groups: Array<
    Omit<GroupDetails, 'consumerList'> & {
      consumerList: Array<GroupDetails['consumerList'][number] & { stuck: boolean }>;
    }
  >;
  deadLetters: { stream: string; count: number };
  registry: Array<{ environment: string; key: string; services: number }>;
  instance?: InstanceStatus;
  /** One line per thing an operator should look at; non-empty means exit 1. */
  attention: string[];
}

@Command({
  name: 'status',
  description:
    'streams, groups, consumers, pending, lag, dead letters and registry from Redis; exit 1 when something needs attention',
})
export class StatusCommand extends TabularCommand {
  @Option({
    flags: '--url <url>',
    description: 'also show the worker states of the instance at this URL (http://host:port)',
  })
  parseUrl(value: string): string {
    return value;
  }

  @Option({
    flags: '--max-lag <n>',
    description: `entries not yet delivered to a group before it needs attention (default ${DEFAULT_MAX_LAG})`,
  })
  parseMaxLag(value: string): string {
    return value;
  }

  @Option({
    flags: '--max-idle <duration>',
    description:
      'idle time of a consumer holding pending entries before it needs attention (default CLAIM_IDLE_MS)',
  })
  parseMaxIdle(value: string): string {
    return value;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    if (args.length > 0) {
      throw usageError(`status: unexpected argument "${args[0]}"`);
    }
    const problems: string[] = [];
    const maxLag = options.maxLag === undefined ? DEFAULT_MAX_LAG : Number(options.maxLag);
    if (!Number.isInteger(maxLag) || maxLag < 0) {
      problems.push(
        `--max-lag: ${JSON.stringify(options.maxLag)} is not valid; expected a whole number >= 0`,
      );
    }
    const maxIdleRaw = options.maxIdle as string | undefined;
    const maxIdle = maxIdleRaw === undefined ? undefined : parseDuration(maxIdleRaw);
    if (maxIdleRaw !== undefined && maxIdle === undefined) {
      problems.push(
        `--max-idle: ${JSON.stringify(maxIdleRaw)} is not valid; expected a duration such as 500ms, 30s, 2m`,
      );
    }
    const url = options.url as string | undefined;
    if (url !== undefined && !isHttpUrl(url)) {
      problems.push(
        `--url: ${JSON.stringify(redactText(url))} is not valid; expected http://host:port`,
      );
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const topology = topologyOf(config);
    const idleBound = maxIdle ?? config.streams.claimIdleMs;

    const [fromRedis, instance] = await Promise.all([
      withRedis(config, 'status', async (redis) => {
        const groups = await readGroupDetails(redis, topology);
        const deadLetterCount = await redis.xlen(topology.deadLetterStream);
        const environments = await registryEnvironments(redis, topology);
        const sizes = await Promise.all(environments.map((env) => redis.hlen(env.key)));
        return {
          groups,
          deadLetterCount,
          registry: environments.map((env, i) => ({ ...env, services: sizes[i] ?? 0 })),
        };
      }),
      url === undefined ? Promise.resolve(undefined) : fetchInstance(url),
    ]);

    const attention: string[] = [];
    const groups = fromRedis.groups.map((group) => {
      const consumerList = group.consumerList.map((consumer) => {
        const stuck = consumer.pending > 0 && consumer.idleMs > idleBound;
        if (stuck) {
          attention.push(
            `consumer ${consumer.name} of ${group.group} on ${group.stream} idle ${formatAge(consumer.idleMs)} with ${consumer.pending} pending`,
          );
        }
        return { ...consumer, stuck };
      });
      if (group.lag !== null && group.lag > maxLag) {
        attention.push(
          `${group.group} on ${group.stream}: lag ${group.lag} above ${maxLag} (--max-lag)`,
        );
      }
      return { ...group, consumerList };
    });
    if (fromRedis.deadLetterCount > 0) {
      attention.push(
        `${fromRedis.deadLetterCount} dead letter(s) in ${topology.deadLetterStream} (see: printery-workers dlq list)`,
      );
    }
    if (instance) {
      if (!instance.reachable) {
        attention.push(`instance ${instance.url} not reachable: ${instance.error ?? 'no answer'}`);
      }
      for (const worker of instance.workers) {
        if (worker.state === 'failed' || !worker.healthy) {
          attention.push(
            `worker ${worker.name} at ${instance.url} is ${worker.state}${worker.healthy ? '' : ' and unhealthy'}${worker.lastError ? `: ${worker.lastError}` : ''}`,
          );
        }
      }
    }

    const report: StatusReport = {
      redis: redactText(config.redis.url),
      streamPrefix: config.streams.prefix,
      groups,
      deadLetters: { stream: topology.deadLetterStream, count: fromRedis.deadLetterCount },
      registry: fromRedis.registry,
      ...(instance ? { instance } : {}),
      attention,
    };
    if (options.json === true || !isTerminal()) {
      writeJson(report);
    } else {
      printReport(report, idleBound, maxLag);
    }
    return attention.length > 0 ? EXIT.runtimeFailure : EXIT.ok;
  }
}

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

async function fetchInstance(raw: string): Promise<InstanceStatus> {
  const url = new URL('/status', raw).toString();
  const shown = redactText(raw);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) {
      return { url: shown, reachable: false, error: `HTTP ${response.status}`, workers: [] };
    }
    const body = (await response.json()) as {
      ready?: boolean;
      shuttingDown?: boolean;
      workers?: unknown;
    };
    const workers = Array.isArray(body.workers) ? (body.workers as InstanceWorker[]) : [];
    return {
      url: shown,
      reachable: true,
      ready: body.ready,
      shuttingDown: body.shuttingDown,
      workers: workers.map((worker) => ({
        name: String(worker.name),
        state: String(worker.state),
        healthy: worker.healthy !== false,
        restarts: Number(worker.restarts ?? 0),
        uptimeSeconds: Number(worker.uptimeSeconds ?? 0),
        inFlight: Number(worker.inFlight ?? 0),
        processed: Number(worker.processed ?? 0),
        failed: Number(worker.failed ?? 0),
        deadLettered: Number(worker.deadLettered ?? 0),
        lastError: worker.lastError ? redactText(String(worker.lastError)) : null,
      })),
    };
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause?.code;
    return {
      url: shown,
      reachable: false,
      error: redactText(cause ?? (error as Error).message),
      workers: [],
    };
  }
}

function printReport(report: StatusReport, idleBound: number, maxLag: number): void {
  writeLine(`Redis ${report.redis}  ·  streams ${report.streamPrefix}:*`);
  writeLine(
    renderTable(
      ['worker', 'stream', 'length', 'pending', 'lag', 'oldest pending', 'consumers'],
      report.groups.map((group) => [
        group.worker,
        group.stream.slice(report.streamPrefix.length + 1),
        group.length,
        group.pending > 0 ? paint(String(group.pending), 'yellow') : '0',
        !group.exists
          ? paint('no group', 'dim')
          : group.lag === null
            ? '?'
            : group.lag > maxLag
              ? paint(String(group.lag), 'red')
              : String(group.lag),
        formatAge(group.oldestPendingAgeMs),
        group.consumerList.length === 0
          ? '-'
          : group.consumerList
              .map((c) => {
                const line = `${c.name}: ${c.pending} pending, idle ${formatAge(c.idleMs)}`;
                return c.stuck ? paint(line, 'red') : line;
              })
              .join('\n'),
      ]),
    ),
  );
  const dead = report.deadLetters.count;
  writeLine(
    `Dead letters: ${dead > 0 ? paint(String(dead), 'red') : '0'}  (${report.deadLetters.stream})`,
  );
  writeLine(
    report.registry.length === 0
      ? 'Registry: empty'
      : `Registry: ${report.registry.map((r) => `${r.environment} ${r.services} service(s)`).join(', ')}`,
  );
  if (report.instance) {
    const instance = report.instance;
    writeLine();
    if (!instance.reachable) {
      writeLine(paint(`Instance ${instance.url}: not reachable (${instance.error ?? ''})`, 'red'));
    } else {
      writeLine(
        `Instance ${instance.url}: ${instance.ready ? paint('ready', 'green') : paint('not ready', 'red')}${instance.shuttingDown ? ' (shutting down)' : ''}`,
      );
      writeLine(
        renderTable(
          [
            'worker',
            'state',
            'restarts',
            'uptime',
            'in flight',
            'processed',
            'failed',
            'dead-lettered',
            'last error',
          ],
          instance.workers.map((w) => [
            w.name,
            w.state === 'running' && w.healthy ? paint(w.state, 'green') : paint(w.state, 'red'),
            w.restarts,
            formatAge(w.uptimeSeconds * 1000),
            w.inFlight,
            w.processed,
            w.failed,
            w.deadLettered,
            w.lastError ? truncate(w.lastError, 40) : '-',
          ]),
        ),
      );
    }
  }
  writeLine();
  if (report.attention.length === 0) {
    writeLine(paint('OK: nothing needs attention', 'green'));
  } else {
    writeLine(paint(`Needs attention (idle bound ${formatAge(idleBound)}):`, 'red'));
    for (const line of report.attention) {
      writeLine(paint(`  - ${line}`, 'red'));
    }
  }
}
