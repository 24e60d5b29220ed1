import type { RedisClient } from '../redis/connection-factory';
import { Command, Option } from 'nest-commander';
import { formatDuration, parseDuration } from '../config';
import { EVENT_TYPES } from '../streams/topology';
import { EXIT } from './exit-codes';
import { type FollowTarget, followAndReport } from './follow-deployment';
import {
  type CommandOptions,
  fieldsToObject,
  OneShotCommand,
  stringOption,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';

const DEFAULT_TIMEOUT_MS = 120_000;
const PAGE = 500;

@Command({
  name: 'follow',
  arguments: '<deploymentId>',
  argsDescription: { deploymentId: 'the deploymentId of a published request' },
  description:
    'follow a deployment already published (after a publish --wait that timed out, or one the orchestrator sent): its stages so far from the streams, then the rest as they come (exit 0 succeeded, 1 failed, 124 timeout)',
})
export class FollowCommand extends OneShotCommand {
  @Option({
    flags: '--timeout <duration>',
    description: `how long to wait for the outcome (default ${formatDuration(DEFAULT_TIMEOUT_MS)})`,
  })
  parseTimeout(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print the result (and stages) as JSON' })
  parseJson(): boolean {
    return true;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const [deploymentId, extra] = args;
    const problems: string[] = [];
    if (extra !== undefined) {
      problems.push(`follow: unexpected argument "${extra}"`);
    }
    const raw = stringOption(options, 'timeout');
    const waitMs = raw === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(raw);
    if (waitMs === undefined || waitMs <= 0) {
      problems.push(
        `--timeout: ${JSON.stringify(raw)} is not valid; expected a duration such as 30s or 2m`,
      );
    }
    if (problems.length > 0 || deploymentId === undefined || waitMs === undefined) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const topology = topologyOf(config);
    const stream = topology.stream(EVENT_TYPES.deploymentStarted);
    return withRedis(config, 'follow', async (redis) => {
      const target = await findStarted(redis, stream, deploymentId);
      if (!target) {
        process.stderr.write(
          `printery-workers: no deployment:started entry for ${deploymentId} in ${stream} (wrong id, another STREAM_PREFIX or Redis, or trimmed away)\n`,
        );
        return EXIT.runtimeFailure;
      }
      return followAndReport(redis, topology, target, {
        waitMs,
        json: options.json === true,
        idleBoundMs: config.streams.claimIdleMs,
      });
    });
  }
}

/**
 * The newest `deployment:started` entry for a deployment id (a retried
 * request follows its latest attempt), newest first in pages.
 */
async function findStarted(
  redis: RedisClient,
  stream: string,
  deploymentId: string,
): Promise<FollowTarget | undefined> {
  let end = '+';
  for (;;) {
    const page = (await redis.xrevrange(stream, end, '-', 'COUNT', PAGE)) as Array<
      [string, string[]]
    >;
    for (const [entryId, flat] of page) {
      const attrs = fieldsToObject(flat);
      if (attrs.id !== undefined && subjectOf(attrs) === deploymentId) {
        return { eventId: attrs.id, entryId, deploymentId };
      }
    }
    const last = page[page.length - 1];
    if (page.length < PAGE || !last) {
      return undefined;
    }
    end = `(${last[0]}`;
  }
}

/** The deployment id of an entry: its `subject`, else `data.deploymentId` (producers may omit subject). */
function subjectOf(attrs: Record<string, string>): string | undefined {
  if (attrs.subject !== undefined) {
    return attrs.subject;
  }
  try {
    const data = JSON.parse(attrs.data ?? 'null') as { deploymentId?: unknown } | null;
    return typeof data?.deploymentId === 'string' ? data.deploymentId : undefined;
  } catch {
    return undefined;
  }
}
