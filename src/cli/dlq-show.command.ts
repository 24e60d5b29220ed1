import { SubCommand } from 'nest-commander';
import { displayedDeadLetter, normaliseId, toDeadLetter } from './dlq-letters';
import { EXIT } from './exit-codes';
import {
  type CommandOptions,
  TabularCommand,
  isStreamId,
  topologyOf,
  usageError,
  withRedis,
} from './one-shot';
import { isTerminal, paint, renderTable, writeJson, writeLine } from './output';

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
