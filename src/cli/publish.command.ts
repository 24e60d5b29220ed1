import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'nest-commander';
import { formatDuration, parseDuration } from '../config';
import { redactText } from '../logging/redact';
import { decodeDeadLetter } from '../streams/dead-letter';
import {
  encodeEnvelope,
  entryBytes,
  type Envelope,
  JSON_CONTENT_TYPE,
  SPEC_VERSION,
} from '../streams/envelope';
import { EVENT_TYPES } from '../streams/topology';
import {
  parseDeploymentStarted,
  validationRulesFromConfig,
} from '../workers/validator/validator.schema';
import { EXIT } from './exit-codes';
import {
  type CommandOptions,
  fieldsToObject,
  OneShotCommand,
  readStdin,
  stringOption,
  streamIdTime,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import { formatAge, paint, writeJson, writeLine } from './output';
import { type StageReport, describeStage } from './pipeline-stages';

const DEFAULT_WAIT_MS = 120_000;
const POLL_BLOCK_MS = 1000;

@Command({
  name: 'publish',
  arguments: '[file]',
  argsDescription: { file: 'JSON deployment:started data, or - for stdin' },
  description:
    'validate and add a deployment:started event; --wait follows it through the pipeline (exit 0 succeeded, 1 failed, 124 timeout)',
})
export class PublishCommand extends OneShotCommand {
  @Option({
    flags: '--wait [timeout]',
    description: `follow the deployment until its notification is sent (default timeout ${formatDuration(DEFAULT_WAIT_MS)})`,
  })
  parseWait(value: string): string {
    return value;
  }

  @Option({ flags: '--dry-run', description: 'validate only; add nothing' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the result (and stages) as JSON' })
  parseJson(): boolean {
    return true;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const problems: string[] = [];
    let file = args[0];
    let waitMs: number | undefined;
    if (options.wait !== undefined) {
      const raw = stringOption(options, 'wait');
      waitMs = raw === undefined ? DEFAULT_WAIT_MS : parseDuration(raw);
      if (waitMs === undefined && file === undefined) {
        // `publish --wait deploy.json`: the optional value swallowed the file.
        file = raw;
        waitMs = DEFAULT_WAIT_MS;
      } else if (waitMs === undefined || waitMs <= 0) {
        problems.push(
          `--wait: ${JSON.stringify(raw)} is not valid; expected a duration such as 30s or 2m`,
        );
      }
    }
    if (file === undefined) {
      problems.push('publish: expected a FILE with the deployment JSON, or - for stdin');
    }
    if (args.length > 1) {
      problems.push(`publish: unexpected argument "${args[1]}"`);
    }
    const dryRun = options.dryRun === true;
    if (dryRun && waitMs !== undefined) {
      problems.push('publish: --dry-run and --wait do not go together');
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const source = file === '-' ? 'stdin' : (file as string);

    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(file as string, 'utf8');
    } catch (error) {
      throw usageError(
        `${source}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw usageError(`${source}: not valid JSON (${(error as Error).message})`);
    }
    const parsed = parseDeploymentStarted(data, validationRulesFromConfig(config));
    if (!parsed.ok) {
      throw usageError(
        ...parsed.errors.map((problem) => `${source}: ${problem.path}: ${problem.message}`),
      );
    }
    const deployment = parsed.value;
    const envelope: Envelope = {
      specversion: SPEC_VERSION,
      id: randomUUID(),
      type: EVENT_TYPES.deploymentStarted,
      source: 'cli',
      subject: deployment.deploymentId,
      time: new Date().toISOString(),
      datacontenttype: JSON_CONTENT_TYPE,
      // The request as written; the Validator fills defaults itself.
      data,
    };
    const fields = encodeEnvelope(envelope);
    const size = entryBytes(fields);
    if (size > config.streams.maxEventBytes) {
      throw usageError(
        `${source}: the event is ${size} bytes, over MAX_EVENT_BYTES (${config.streams.maxEventBytes})`,
      );
    }
    if (dryRun) {
      if (options.json === true) {
        writeJson({ valid: true, deploymentId: deployment.deploymentId, bytes: size });
      } else {
        writeLine(
          `valid: ${deployment.deploymentId} (${deployment.service}@${deployment.version} to ${deployment.environment}); nothing published`,
        );
      }
      return EXIT.ok;
    }

    const topology = topologyOf(config);
    const stream = topology.stream(EVENT_TYPES.deploymentStarted);
    return withRedis(config, 'publish', async (redis) => {
      const startedAt = performance.now();
      const entryId = String(await redis.xadd(stream, '*', ...fields));
      if (waitMs === undefined) {
        if (options.json === true) {
          writeJson({
            eventId: envelope.id,
            entryId,
            stream,
            deploymentId: deployment.deploymentId,
          });
        } else {
          writeLine(envelope.id);
        }
        return EXIT.ok;
      }
      if (options.json !== true) {
        writeLine(envelope.id);
        writeLine(
          paint(`following ${deployment.deploymentId} (up to ${formatDuration(waitMs)})…`, 'dim'),
        );
      }
      const follow = await followDeployment({
        read: (streams, ids, block) =>
          redis.xread('COUNT', 100, 'BLOCK', block, 'STREAMS', ...streams, ...ids),
        streams: {
          [topology.stream(EVENT_TYPES.validationCompleted)]: EVENT_TYPES.validationCompleted,
          [topology.stream(EVENT_TYPES.dependencyChecked)]: EVENT_TYPES.dependencyChecked,
          [topology.stream(EVENT_TYPES.healthChecked)]: EVENT_TYPES.healthChecked,
          [topology.stream(EVENT_TYPES.notificationSent)]: EVENT_TYPES.notificationSent,
        },
        deadLetterStream: topology.deadLetterStream,
        // Output ids come from the same Redis clock, so nothing relevant is older.
        fromId: String(Math.max(0, streamIdTime(entryId) - 1)),
        eventId: envelope.id,
        deploymentId: deployment.deploymentId,
        deadline: startedAt + waitMs,
        startedAt,
        onStage: (stage) => {
          if (options.json !== true) {
            printStage(stage);
          }
        },
      });
      const elapsedMs = performance.now() - startedAt;
      if (options.json === true) {
        writeJson({
          eventId: envelope.id,
          entryId,
          deploymentId: deployment.deploymentId,
          outcome: follow.outcome,
          failedStage: follow.failedStage,
          reason: follow.reason,
          elapsedMs: Math.round(elapsedMs),
          stages: follow.stages,
        });
      } else if (follow.outcome === 'timeout') {
        writeLine(
          paint(
            `timed out after ${formatAge(elapsedMs)} waiting for ${follow.waitingFor}`,
            'yellow',
          ),
        );
      } else {
        writeLine(
          follow.outcome === 'succeeded'
            ? paint(
                `deployment ${deployment.deploymentId} succeeded in ${formatAge(elapsedMs)}`,
                'green',
              )
            : paint(
                `deployment ${deployment.deploymentId} failed${follow.failedStage ? ` at ${follow.failedStage}` : ''}${follow.reason ? `: ${redactText(follow.reason)}` : ''} (${formatAge(elapsedMs)})`,
                'red',
              ),
        );
      }
      return follow.outcome === 'succeeded'
        ? EXIT.ok
        : follow.outcome === 'timeout'
          ? EXIT.waitTimeout
          : EXIT.runtimeFailure;
    });
  }
}

function printStage(stage: StageReport): void {
  const colour = stage.ok === true ? 'green' : stage.ok === false ? 'red' : 'yellow';
  writeLine(
    `${paint(`[+${formatAge(stage.elapsedMs)}]`, 'dim')} ${stage.stage.padEnd(12)} ${paint(stage.summary, colour)}`,
  );
  for (const detail of stage.details) {
    writeLine(`               ${detail}`);
  }
}

interface FollowOptions {
  read: (
    streams: string[],
    ids: string[],
    blockMs: number,
  ) => Promise<Array<[string, Array<[string, string[]]>]> | null>;
  /** Stream key → event type. */
  streams: Record<string, string>;
  deadLetterStream: string;
  fromId: string;
  eventId: string;
  deploymentId: string;
  deadline: number;
  startedAt: number;
  onStage: (stage: StageReport) => void;
}

interface FollowResult {
  outcome: 'succeeded' | 'failed' | 'timeout';
  failedStage: string | null;
  reason: string | null;
  /** For a timeout: the stage not seen yet. */
  waitingFor: string;
  stages: StageReport[];
}

/**
 * Reads the pipeline's output streams (and the dead-letter stream) from the
 * publish time on and keeps the entries caused by this event or by its
 * descendants (the `causationid` chain), until the `notification:sent` that
 * closes the deployment, a dead letter that ends it, or the deadline.
 */
async function followDeployment(options: FollowOptions): Promise<FollowResult> {
  const keys = [...Object.keys(options.streams), options.deadLetterStream];
  const cursors = keys.map(() => options.fromId);
  const ours = new Set([options.eventId]);
  const stages: StageReport[] = [];
  let waitingFor = 'validation';
  while (performance.now() < options.deadline) {
    const block = Math.max(
      1,
      Math.min(POLL_BLOCK_MS, Math.ceil(options.deadline - performance.now())),
    );
    const reply = (await options.read(keys, cursors, block)) ?? [];
    for (const [key, entries] of reply) {
      const index = keys.indexOf(key);
      for (const [entryId, flat] of entries) {
        cursors[index] = entryId;
        const elapsedMs = performance.now() - options.startedAt;
        if (key === options.deadLetterStream) {
          const letter = decodeDeadLetter(flat);
          const original = fieldsToObject(letter.fields);
          if (original.id === undefined || !ours.has(original.id)) {
            continue;
          }
          const stage: StageReport = {
            stage: 'dead letter',
            type: 'dead-letter',
            eventId: original.id,
            ok: false,
            summary: `dead-lettered by ${letter.worker || 'a worker'} (${letter.reason}) after ${letter.deliveryCount} deliveries`,
            details: letter.error ? [redactText(letter.error)] : [],
            elapsedMs,
          };
          stages.push(stage);
          options.onStage(stage);
          return {
            outcome: 'failed',
            failedStage: letter.worker || 'dead letter',
            reason: letter.error || letter.reason,
            waitingFor,
            stages,
          };
        }
        const attrs = fieldsToObject(flat);
        const matches =
          attrs.causationid !== undefined
            ? ours.has(attrs.causationid)
            : attrs.subject === options.deploymentId;
        if (!matches || attrs.id === undefined) {
          continue;
        }
        ours.add(attrs.id);
        let data: unknown;
        try {
          data = JSON.parse(attrs.data ?? 'null');
        } catch {
          data = null;
        }
        const stage = describeStage(options.streams[key] ?? '', attrs.id, data, elapsedMs);
        stages.push(stage);
        options.onStage(stage);
        waitingFor = stage.next ?? waitingFor;
        if (stage.final) {
          return {
            outcome: stage.final.outcome,
            failedStage: stage.final.failedStage,
            reason: stage.final.reason,
            waitingFor,
            stages,
          };
        }
      }
    }
  }
  return { outcome: 'timeout', failedStage: null, reason: null, waitingFor, stages };
}
