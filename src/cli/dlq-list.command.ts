import { Option, SubCommand } from 'nest-commander';
import { EVENT_TYPES } from '../streams/topology';
import {
  type DeadLetter,
  PAGE,
  displayedDeadLetter,
  replayableStreams,
  toDeadLetter,
} from './dlq-letters';
import { EXIT } from './exit-codes';
import {
  type CommandOptions,
  TabularCommand,
  stringOption,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import {
  formatAge,
  isTerminal,
  paint,
  renderTable,
  truncate,
  writeJson,
  writeLine,
} from './output';

@SubCommand({
  name: 'list',
  description: 'list dead letters, oldest first',
})
export class DlqListCommand extends TabularCommand {
  @Option({
    flags: '--stream <stream>',
    description: 'only entries that came from this stream (event type or full key)',
  })
  parseStream(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: 'at most this many entries (default 50)' })
  parseLimit(value: string): string {
    return value;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const problems: string[] = [];
    if (args.length > 0) {
      problems.push(`dlq list: unexpected argument "${args[0]}"`);
    }
    const limit = options.limit === undefined ? 50 : Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      problems.push(
        `--limit: ${JSON.stringify(options.limit)} is not valid; expected a whole number >= 1`,
      );
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const topology = topologyOf(config);
    const rawStream = stringOption(options, 'stream');
    const stream =
      rawStream === undefined || rawStream.startsWith(`${topology.prefix}:`)
        ? rawStream
        : topology.stream(rawStream);
    if (stream !== undefined && !replayableStreams(topology).has(stream)) {
      // A typo would otherwise read as "no dead letters".
      throw usageError(
        `--stream: ${JSON.stringify(rawStream)} is not a stream this service uses; expected one of ${Object.values(EVENT_TYPES).join(', ')} (or its full key under ${topology.prefix}:)`,
      );
    }

    const { entries, total } = await withRedis(config, 'dlq', async (redis) => {
      const found: DeadLetter[] = [];
      let start = '-';
      // Filtering happens client-side, so page through until enough match.
      while (found.length < limit) {
        const page = (await redis.xrange(
          topology.deadLetterStream,
          start,
          '+',
          'COUNT',
          PAGE,
        )) as Array<[string, string[]]>;
        for (const raw of page) {
          const entry = toDeadLetter(raw);
          if (stream === undefined || entry.stream === stream) {
            found.push(entry);
          }
        }
        const last = page[page.length - 1];
        if (page.length < PAGE || !last) {
          break;
        }
        start = `(${last[0]}`;
      }
      return {
        entries: found.slice(0, limit),
        total: await redis.xlen(topology.deadLetterStream),
      };
    });

    if (options.json === true || !isTerminal()) {
      writeJson(entries.map(displayedDeadLetter));
      return EXIT.ok;
    }
    if (entries.length === 0) {
      writeLine(
        stream === undefined
          ? `no dead letters in ${topology.deadLetterStream}`
          : `no dead letters from ${stream}`,
      );
      return EXIT.ok;
    }
    const now = Date.now();
    writeLine(
      renderTable(
        ['id', 'age', 'from stream', 'original id', 'worker', 'reason', 'deliveries', 'error'],
        entries
          .map(displayedDeadLetter)
          .map((entry) => [
            entry.deadLetterId,
            entry.time ? formatAge(now - Date.parse(entry.time)) : '-',
            entry.stream.startsWith(`${topology.prefix}:`)
              ? entry.stream.slice(topology.prefix.length + 1)
              : entry.stream,
            entry.id,
            entry.worker,
            paint(entry.reason, 'red'),
            entry.deliveryCount,
            truncate(entry.error, 50),
          ]),
      ),
    );
    writeLine(
      `${entries.length} shown of ${total} in ${topology.deadLetterStream}; details: printery-workers dlq show ID`,
    );
    return EXIT.ok;
  }
}
