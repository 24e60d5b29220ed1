import { createInterface } from 'node:readline/promises';
import { Option, SubCommand } from 'nest-commander';
import { nextId } from './dlq-letters';
import { EXIT } from './exit-codes';
import { type CommandOptions, OneShotCommand, topologyOf, usageError, withRedis } from './one-shot';
import { writeLine } from './output';

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
