import { createInterface } from 'node:readline/promises';
import type Redis from 'ioredis';
import { Command, Option, SubCommand } from 'nest-commander';
import { redactDeep, redactText, redactUrlPath } from '../logging/redact';
import { type DeadLetterRecord, decodeDeadLetter } from '../streams/dead-letter';
import { withReplayTarget } from '../streams/envelope';
import { EVENT_TYPES, type StreamTopology } from '../streams/topology';
import { EXIT } from './exit-codes';
import {
  CommandGroup,
  type CommandOptions,
  fieldsToObject,
  isStreamId,
  OneShotCommand,
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

const PAGE = 200;
/** WATCH/MULTI attempts per entry before a replay gives up on a busy dead-letter stream. */
const REPLAY_ATTEMPTS = 5;

type DeadLetter = DeadLetterRecord & { deadLetterId: string };

function toDeadLetter([entryId, flat]: [string, string[]]): DeadLetter {
  return { deadLetterId: entryId, ...decodeDeadLetter(flat) };
}

/** The stream keys a dead letter may come from and be replayed into: the pipeline's own. */
function replayableStreams(topology: StreamTopology): Set<string> {
  return new Set(Object.values(EVENT_TYPES).map((type) => topology.stream(type)));
}

/** Ids are given as seen in `dlq list`; a bare millisecond part means `-0`. */
function normaliseId(id: string): string {
  return id.includes('-') ? id : `${id}-0`;
}

/** The id just after `id`, for an exclusive XTRIM MINID bound. */
function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

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

/** A dead letter as `list` and `show` display it: the original fields as an object, secrets scrubbed. */
export type DisplayedDeadLetter = Omit<DeadLetter, 'fields'> & { fields: Record<string, string> };

/**
 * A dead letter made safe to print: metadata and original fields pass
 * through `redactDeep`, and inside a JSON `data` the webhook URLs of
 * `notify[]` and the `healthCheck.url` lose their paths (Slack webhook
 * paths are the credential). Only for display; `replay` re-adds the raw
 * fields.
 */
export function displayedDeadLetter(entry: DeadLetter): DisplayedDeadLetter {
  const { fields, ...meta } = entry;
  const original = fieldsToObject(fields);
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(original)) {
    shown[name] = name === 'data' ? displayedData(value) : value;
  }
  return { ...redactDeep(meta), fields: redactDeep(shown) };
}

function displayedData(value: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // Not JSON (often the very reason it was dead-lettered): scrubbed as text.
    return redactText(value);
  }
  return JSON.stringify(redactDeep(withoutUrlPaths(parsed)));
}

/** Deep copy with `notify[].url` and `healthCheck.url` stripped of credentials by `redactUrlPath`, at any depth. */
function withoutUrlPaths(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutUrlPaths);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'notify' && Array.isArray(item)) {
      out[key] = item.map((target: unknown) => withoutUrlPaths(withUrlRedacted(target)));
    } else if (key === 'healthCheck') {
      out[key] = withoutUrlPaths(withUrlRedacted(item));
    } else {
      out[key] = withoutUrlPaths(item);
    }
  }
  return out;
}

function withUrlRedacted(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return value;
  }
  const record = value as Record<string, unknown>;
  return typeof record.url === 'string' ? { ...record, url: redactUrlPath(record.url) } : record;
}

@SubCommand({
  name: 'show',
  arguments: '<id>',
  argsDescription: { id: 'dead-letter entry id, as in `dlq list`' },
  description: 'show one dead letter: all metadata and the original fields',
})
export class DlqShowCommand extends TabularCommand {
  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const [id, extra] = args;
    const problems: string[] = [];
    if (id === undefined || !isStreamId(id)) {
      problems.push(
        `ID: ${JSON.stringify(id ?? '')} is not valid; expected a stream entry id such as 1700000000000-0`,
      );
    }
    if (extra !== undefined) {
      problems.push(`dlq show: unexpected argument "${extra}"`);
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const topology = topologyOf(config);
    const entryId = normaliseId(id as string);
    const found = await withRedis(
      config,
      'dlq',
      async (redis) =>
        (await redis.xrange(topology.deadLetterStream, entryId, entryId)) as Array<
          [string, string[]]
        >,
    );
    const raw = found[0];
    if (!raw) {
      process.stderr.write(
        `printery-workers: no dead letter ${entryId} in ${topology.deadLetterStream}\n`,
      );
      return EXIT.runtimeFailure;
    }
    const entry = displayedDeadLetter(toDeadLetter(raw));
    if (options.json === true || !isTerminal()) {
      writeJson(entry);
      return EXIT.ok;
    }
    writeLine(
      renderTable(
        [],
        [
          ['dead-letter id', entry.deadLetterId],
          ['dead-lettered at', entry.time || '-'],
          ['from stream', entry.stream],
          ['original id', entry.id],
          ['group', entry.group],
          ['worker', entry.worker],
          ['reason', paint(entry.reason, 'red')],
          ['deliveries', entry.deliveryCount],
          ['last error', entry.error || '-'],
        ],
      ),
    );
    writeLine('original fields:');
    for (const [name, value] of Object.entries(entry.fields)) {
      let shown = value;
      if (name === 'data') {
        try {
          shown = JSON.stringify(JSON.parse(value), null, 2);
        } catch {
          // Not JSON (often the very reason it was dead-lettered): shown as stored, scrubbed.
        }
      }
      writeLine(`  ${name}: ${shown.replace(/\n/g, '\n  ')}`);
    }
    return EXIT.ok;
  }
}

@SubCommand({
  name: 'replay',
  arguments: '[ids...]',
  argsDescription: { ids: 'dead-letter entry ids, as in `dlq list`' },
  description:
    're-add dead letters to their original stream (fresh entry id) and remove them from the dead-letter stream',
})
export class DlqReplayCommand extends OneShotCommand {
  @Option({ flags: '--all', description: 'replay every dead letter' })
  parseAll(): boolean {
    return true;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    const all = options.all === true;
    const problems: string[] = [];
    if (all && args.length > 0) {
      problems.push('dlq replay: give entry ids or --all, not both');
    }
    if (!all && args.length === 0) {
      problems.push('dlq replay: expected one or more entry ids, or --all');
    }
    for (const id of args) {
      if (!isStreamId(id)) {
        problems.push(
          `ID: ${JSON.stringify(id)} is not valid; expected a stream entry id such as 1700000000000-0`,
        );
      }
    }
    if (problems.length > 0) {
      throw usageError(...problems);
    }
    const config = this.loadConfig();
    const topology = topologyOf(config);
    const allowed = replayableStreams(topology);

    const { replayed, failed } = await withRedis(config, 'dlq', async (redis) => {
      let ids = args.map(normaliseId);
      if (all) {
        // A snapshot: letters arriving while replaying wait for the next run.
        const entries = (await redis.xrange(topology.deadLetterStream, '-', '+')) as Array<
          [string, string[]]
        >;
        ids = entries.map(([entryId]) => entryId);
      }
      let ok = 0;
      let bad = 0;
      for (const id of ids) {
        const result = await replayOne(redis, topology.deadLetterStream, id, allowed);
        if (result.ok) {
          ok += 1;
          const target = result.group ? ` for ${result.group}` : '';
          writeLine(`replayed ${id} -> ${result.stream} ${result.newId}${target}`);
        } else {
          bad += 1;
          process.stderr.write(`printery-workers: not replayed ${id}: ${result.reason}\n`);
        }
      }
      return { replayed: ok, failed: bad };
    });
    if (all && replayed + failed === 0) {
      writeLine(`no dead letters in ${topology.deadLetterStream}`);
    } else {
      writeLine(`${replayed} replayed, ${failed} not replayed`);
    }
    return failed > 0 ? EXIT.runtimeFailure : EXIT.ok;
  }
}

type ReplayResult =
  { ok: true; stream: string; newId: string; group: string } | { ok: false; reason: string };

/**
 * Re-adds one dead letter and deletes it in one MULTI, under WATCH so that
 * two operators replaying the same letter cannot both re-add it: the loser's
 * EXEC aborts, and on retry the letter is gone.
 */
async function replayOne(
  redis: Redis,
  deadLetterStream: string,
  id: string,
  allowed: Set<string>,
): Promise<ReplayResult> {
  for (let attempt = 0; attempt < REPLAY_ATTEMPTS; attempt += 1) {
    await redis.watch(deadLetterStream);
    const found = (await redis.xrange(deadLetterStream, id, id)) as Array<[string, string[]]>;
    const raw = found[0];
    if (!raw) {
      await redis.unwatch();
      return { ok: false, reason: 'no such dead letter' };
    }
    const entry = toDeadLetter(raw);
    if (!allowed.has(entry.stream)) {
      await redis.unwatch();
      return {
        ok: false,
        reason: `original stream ${JSON.stringify(entry.stream)} is not a stream of this pipeline`,
      };
    }
    if (entry.fields.length === 0 || entry.fields.length % 2 !== 0) {
      await redis.unwatch();
      return { ok: false, reason: 'the original fields are missing or incomplete' };
    }
    const result = await redis
      .multi()
      // Addressed to the group that gave up on it: other groups reading the
      // same stream already handled the original and acknowledge this copy.
      .xadd(
        entry.stream,
        '*',
        ...(entry.group ? withReplayTarget(entry.fields, entry.group) : entry.fields),
      )
      .xdel(deadLetterStream, id)
      .exec();
    if (result === null) {
      // The dead-letter stream changed under WATCH (a new letter, or another replay); look again.
      continue;
    }
    const [addErr, newId] = result[0] ?? [];
    if (addErr) {
      return { ok: false, reason: addErr.message };
    }
    return { ok: true, stream: entry.stream, newId: String(newId), group: entry.group };
  }
  return { ok: false, reason: 'the dead-letter stream kept changing; try again' };
}

@SubCommand({
  name: 'purge',
  description: 'delete every dead letter (asks first in a terminal; needs --yes otherwise)',
})
export class DlqPurgeCommand extends OneShotCommand {
  @Option({ flags: '-y, --yes', description: 'do not ask for confirmation' })
  parseYes(): boolean {
    return true;
  }

  protected async execute(args: string[], options: CommandOptions): Promise<number> {
    if (args.length > 0) {
      throw usageError(`dlq purge: unexpected argument "${args[0]}"`);
    }
    const yes = options.yes === true;
    if (!yes && process.stdin.isTTY !== true) {
      throw usageError(
        'dlq purge: refusing to delete dead letters without --yes when stdin is not a terminal',
      );
    }
    const config = this.loadConfig();
    const key = topologyOf(config).deadLetterStream;
    return withRedis(config, 'dlq', async (redis) => {
      const count = await redis.xlen(key);
      const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      const lastId = last[0]?.[0];
      if (count === 0 || lastId === undefined) {
        writeLine(`no dead letters in ${key}`);
        return EXIT.ok;
      }
      if (!yes && !(await confirm(`Delete ${count} dead letter(s) from ${key}? [y/N] `))) {
        writeLine('nothing deleted');
        return EXIT.runtimeFailure;
      }
      // Trim up to what was counted, not DEL: letters arriving meanwhile are kept.
      const removed = await redis.xtrim(key, 'MINID', nextId(lastId));
      writeLine(`purged ${removed} dead letter(s) from ${key}`);
      return EXIT.ok;
    });
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

@Command({
  name: 'dlq',
  description: 'inspect and re-drive dead letters (list, show, replay, purge)',
  subCommands: [DlqListCommand, DlqShowCommand, DlqReplayCommand, DlqPurgeCommand],
})
export class DlqCommand extends CommandGroup {}
