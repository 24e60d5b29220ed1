import { Command, Option } from 'nest-commander';
import { type AppConfig, parseDuration } from '../config';
import { redactText } from '../logging/redact';
import { EXIT } from './exit-codes';
import { isHttpUrl } from './instance-status';
import { type CommandOptions, stringOption, TabularCommand, usageError } from './one-shot';
import { isTerminal, paint, writeJson, writeLine } from './output';
import { renderReport } from './status-print';
import { type StatusBounds, collectStatus } from './status-report';

const DEFAULT_MAX_LAG = 1000;
const DEFAULT_WATCH_MS = 2000;
const MIN_WATCH_MS = 100;
/** Clear the screen and move home: each frame replaces the last, as watch(1) does. */
const CLEAR_SCREEN = '\u001b[H\u001b[2J';

interface StatusPlan {
  bounds: StatusBounds;
  url: string | undefined;
  watchMs: number | undefined;
}

@Command({
  name: 'status',
  description:
    'streams, groups, consumers, pending, lag, dead letters and registry from Redis, and the worker states of the instance at --url (default http://localhost:PORT); exit 1 when something needs attention',
})
export class StatusCommand extends TabularCommand {
  protected override readonly uses = ['redis', 'streams', 'port'];

  @Option({
    flags: '--url <url>',
    description:
      'the instance whose worker states to show (http://host:port; default localhost and PORT, where not answering is only noted)',
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

  @Option({
    flags: '--watch [interval]',
    description: `redraw every interval (default ${DEFAULT_WATCH_MS / 1000}s) until Ctrl-C, exit 0; piped or with --json, one JSON report per line instead`,
  })
  parseWatch(value: string): string {
    return value;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    if (args.length > 0) {
      throw usageError(`status: unexpected argument "${args[0]}"`);
    }
    const config = this.loadConfig();
    const plan = planOf(options, config);
    const json = options.json === true || !isTerminal();
    const instanceUrl = {
      url: plan.url ?? `http://localhost:${config.port}`,
      given: plan.url !== undefined,
    };
    if (plan.watchMs === undefined) {
      const report = await collectStatus(config, plan.bounds, instanceUrl);
      if (json) {
        writeJson(report);
      } else {
        writeLine(renderReport(report, plan.bounds.idleBoundMs, plan.bounds.maxLag));
      }
      return report.attention.length > 0 ? EXIT.runtimeFailure : EXIT.ok;
    }
    const everyMs = plan.watchMs;
    return watch(everyMs, async () => {
      const time = new Date().toISOString();
      try {
        const report = await collectStatus(config, plan.bounds, instanceUrl);
        return json
          ? `${JSON.stringify({ time, ...report })}\n`
          : `${CLEAR_SCREEN}${paint(`every ${everyMs / 1000}s · ${time} · Ctrl-C to stop`, 'dim')}\n${renderReport(report, plan.bounds.idleBoundMs, plan.bounds.maxLag)}\n`;
      } catch (error) {
        // Redis gone for a moment: say so in this frame and try again at the next.
        const message = redactText((error as Error).message);
        return json
          ? `${JSON.stringify({ time, error: message })}\n`
          : `${CLEAR_SCREEN}${paint(`every ${everyMs / 1000}s · ${time} · Ctrl-C to stop`, 'dim')}\n${paint(message, 'red')}\n`;
      }
    });
  }
}

/** The flags checked together, every problem listed at once (exit 2). */
function planOf(options: CommandOptions, config: AppConfig): StatusPlan {
  const problems: string[] = [];
  const maxLag = options.maxLag === undefined ? DEFAULT_MAX_LAG : Number(options.maxLag);
  if (!Number.isInteger(maxLag) || maxLag < 0) {
    problems.push(
      `--max-lag: ${JSON.stringify(options.maxLag)} is not valid; expected a whole number >= 0`,
    );
  }
  const maxIdleRaw = stringOption(options, 'maxIdle');
  const maxIdle = maxIdleRaw === undefined ? undefined : parseDuration(maxIdleRaw);
  if (maxIdleRaw !== undefined && maxIdle === undefined) {
    problems.push(
      `--max-idle: ${JSON.stringify(maxIdleRaw)} is not valid; expected a duration such as 500ms, 30s, 2m`,
    );
  }
  const url = stringOption(options, 'url');
  if (url !== undefined && !isHttpUrl(url)) {
    problems.push(
      `--url: ${JSON.stringify(redactText(url))} is not valid; expected http://host:port`,
    );
  }
  let watchMs: number | undefined;
  if (options.watch !== undefined) {
    const raw = stringOption(options, 'watch');
    watchMs = raw === undefined ? DEFAULT_WATCH_MS : parseDuration(raw);
    if (watchMs === undefined || watchMs < MIN_WATCH_MS) {
      problems.push(
        `--watch: ${JSON.stringify(raw)} is not valid; expected an interval of at least ${MIN_WATCH_MS}ms such as 2s or 500ms`,
      );
    }
  }
  if (problems.length > 0) {
    throw usageError(...problems);
  }
  return {
    bounds: { idleBoundMs: maxIdle ?? config.streams.claimIdleMs, maxLag },
    url,
    watchMs,
  };
}

/**
 * Writes `frame()` every `everyMs` until SIGINT or SIGTERM; a stop asked
 * for is a clean end (exit 0), as with watch(1) or tail -f.
 */
async function watch(everyMs: number, frame: () => Promise<string>): Promise<number> {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let running = true;
  const onSignal = (): void => {
    running = false;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let timer: NodeJS.Timeout | undefined;
  try {
    while (running) {
      const text = await Promise.race([frame(), stopped.then(() => '')]);
      process.stdout.write(text);
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, everyMs);
        }),
      ]);
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.ok;
}
