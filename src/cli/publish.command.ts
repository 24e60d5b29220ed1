import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, Help, Option } from 'nest-commander';
import { type AppConfig, formatDuration, parseDuration } from '../config';
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
  OneShotCommand,
  readStdin,
  stringOption,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import { writeJson, writeLine } from './output';
import { followAndReport } from './follow-deployment';
import { nobodyReading } from './nobody-reading';
import { PUBLISH_HELP } from './publish-help';

const DEFAULT_WAIT_MS = 120_000;

@Command({
  name: 'publish',
  arguments: '[file]',
  argsDescription: { file: 'JSON deployment:started data, or - for stdin' },
  description:
    'validate and add a deployment:started event; --wait follows it through the pipeline (exit 0 succeeded, 1 failed, 124 timeout)',
})
export class PublishCommand extends OneShotCommand {
  // The Validator's rules, allow-lists included, as the service would apply them.
  protected override readonly uses = ['redis', 'streams', 'validation'];

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

  @Help('after')
  requestFields(): string {
    return PUBLISH_HELP;
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
      const problems = parsed.errors.map(
        (problem) => `${source}: ${problem.path}: ${problem.message}`,
      );
      if (problems.some((problem) => problem.includes('_ALLOWED_HOSTS'))) {
        problems.push(allowListNote(config));
      }
      throw usageError(...problems);
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
      const entryId = String(await redis.xadd(stream, '*', ...fields));
      const unread = await nobodyReading(redis, topology, 'validation', config.streams.claimIdleMs);
      if (unread) {
        // Published all the same: the service picks it up once it runs.
        process.stderr.write(`printery-workers: note: ${unread}\n`);
      }
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
      }
      return followAndReport(
        redis,
        topology,
        { eventId: envelope.id, entryId, deploymentId: deployment.deploymentId },
        { waitMs, json: options.json === true, idleBoundMs: config.streams.claimIdleMs },
      );
    });
  }
}

/** Which allow-lists `publish` checked: this shell's, which may not be the service's. */
function allowListNote(config: AppConfig): string {
  const shown = (hosts: readonly string[]): string =>
    hosts.length === 0 ? '(empty: any public host)' : hosts.join(',');
  return `(checked in ENVIRONMENT ${config.environment} with this shell's HEALTHCHECK_ALLOWED_HOSTS ${shown(config.validation.healthCheckAllowedHosts)} and NOTIFY_ALLOWED_HOSTS ${shown(config.validation.notifyAllowedHosts)}; the running service checks again with its own)`;
}
