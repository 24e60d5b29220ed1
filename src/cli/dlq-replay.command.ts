import type { RedisClient } from '../redis/connection-factory';
import { Option, SubCommand } from 'nest-commander';
import { withReplayTarget } from '../streams/envelope';
import { normaliseId, replayableStreams, toDeadLetter } from './dlq-letters';
import { EXIT } from './exit-codes';
import {
  type CommandOptions,
  OneShotCommand,
  isStreamId,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import { writeLine } from './output';

/** WATCH/MULTI attempts per entry before a replay gives up on a busy dead-letter stream. */
const REPLAY_ATTEMPTS = 5;

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
  redis: RedisClient,
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
