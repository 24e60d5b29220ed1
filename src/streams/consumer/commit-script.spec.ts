import type { Command, default as Redis } from 'ioredis';
import { CommitBatcher } from './commit-batcher';
import type { CommitDone, CommitWrites } from './commit-layout';
import { SCRIPT_REFUSED, ScriptCall } from './commit-script';
import { type Task, newTask, taskKey } from './task';

// The batcher's script path against a hand-made client: the script call's
// arguments are recorded and answered by hand; a MULTI (the fallback) is
// recorded as its commands and applied. commit-batcher.spec.ts covers the
// MULTI's own semantics (EXECABORT, refusals, claims, deadline).

type Answer = () => Promise<unknown>;

const replyError = (message: string): Error =>
  Object.assign(new Error(message), { name: 'ReplyError' });

describe('CommitBatcher, one script call per batch', () => {
  let scriptCalls: unknown[][];
  let answers: Answer[];
  let multis: Array<Array<Array<string | number>>>;
  let batcher: CommitBatcher;
  let results: Map<string, { applied: boolean; error: unknown }>;

  beforeEach(() => {
    scriptCalls = [];
    answers = [];
    multis = [];
    results = new Map();
    const client: Record<string, unknown> = {
      // The script's call as the connection gets it: EVALSHA, its SHA, then numkeys, KEYS, ARGV.
      sendCommand(command: Command) {
        scriptCalls.push(command.args.slice(1));
        (answers.shift() ?? (() => Promise.reject(new Error('no answer'))))().then(
          command.resolve,
          command.reject,
        );
      },
      pipeline() {
        const commands: Array<Array<string | number>> = [];
        multis.push(commands);
        const pipeline = {
          get length() {
            return commands.length;
          },
          call: (...args: Array<string | number>) => (commands.push(args), pipeline),
          xadd: (...args: Array<string | number>) => (commands.push(['XADD', ...args]), pipeline),
          xack: (...args: Array<string | number>) => (commands.push(['XACK', ...args]), pipeline),
          exec: () =>
            Promise.resolve(
              commands.map((_, at) =>
                at === commands.length - 1
                  ? [null, commands.slice(1, -1).map(() => 'ok')]
                  : [null, 'QUEUED'],
              ),
            ),
        };
        return pipeline;
      },
    };
    batcher = new CommitBatcher(
      { client: client as unknown as Redis, run: (reply) => reply },
      'printery-notifier',
      new AbortController().signal,
    );
  });

  const task = (stream: string, entryId: string): Task =>
    newTask(taskKey(stream, entryId), stream, 'validation:completed', entryId, [], 1);
  const outputs =
    (...ids: string[]): CommitWrites =>
    (multi) => {
      for (const id of ids) {
        multi.xadd('out', '*', 'of', id);
      }
    };
  const recordAs =
    (entryId: string): CommitDone =>
    (isApplied, error) => {
      results.set(entryId, { applied: isApplied, error });
    };
  async function send(entries: Array<[string, string, CommitWrites | undefined]>): Promise<void> {
    batcher.send(
      entries.map(([stream, id, writes]) => ({
        task: task(stream, id),
        writes,
        done: recordAs(id),
        first: 0,
        written: 0,
        ackAt: 0,
      })),
    );
    for (let turn = 0; turn < 3; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const batch: Array<[string, string, CommitWrites | undefined]> = [
    ['s1', '1-1', outputs('a1', 'a2')],
    ['s2', '2-1', undefined],
    ['s1', '1-2', outputs('c1')],
  ];

  it('sends the MULTI’s commands as one call: every write in order, then one XACK per stream', async () => {
    answers.push(() => Promise.resolve(['1-1', '1-2', '1-3', 2, 1]));
    await send(batch);
    expect(multis).toHaveLength(0);
    expect(scriptCalls).toEqual([
      [
        3,
        'out',
        's1',
        's2',
        5,
        ...['XADD', 1, 3, '*', 'of', 'a1'],
        ...['XADD', 1, 3, '*', 'of', 'a2'],
        ...['XADD', 1, 3, '*', 'of', 'c1'],
        ...['XACK', 2, 3, 'printery-notifier', '1-1', '1-2'],
        ...['XACK', 3, 2, 'printery-notifier', '2-1'],
      ],
    ]);
    expect([...results.values()]).toEqual([
      { applied: true, error: undefined },
      { applied: true, error: undefined },
      { applied: true, error: undefined },
    ]);
  });

  it('reports a command that failed inside the script to its own entry only', async () => {
    const wrongType = replyError(
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    );
    answers.push(() => Promise.resolve(['1-1', '1-2', wrongType, 2, 1]));
    await send(batch);
    expect(results.get('1-1')).toEqual({ applied: true, error: undefined });
    expect(results.get('2-1')).toEqual({ applied: true, error: undefined });
    expect(results.get('1-2')).toEqual({ applied: true, error: wrongType });
  });

  it('sends the batch as a MULTI when the ACL refuses one of its commands, which says which', async () => {
    answers.push(() => Promise.resolve(SCRIPT_REFUSED));
    await send(batch);
    expect(multis).toHaveLength(1);
    expect(multis[0]?.[0]).toEqual(['MULTI']);
    expect([...results.values()].every((result) => result.applied)).toBe(true);
  });

  it('sends the batch as a MULTI when Redis refuses the call for now, and tries the script next time', async () => {
    answers.push(() =>
      Promise.reject(replyError("OOM command not allowed when used memory > 'maxmemory'.")),
    );
    await send(batch);
    expect(multis).toHaveLength(1);
    answers.push(() => Promise.resolve([1]));
    await send([['s1', '1-3', undefined]]);
    expect(scriptCalls).toHaveLength(2);
    expect(multis).toHaveLength(1);
  });

  it('stops using the script when Redis cannot run it (no Redis 7, or no EVALSHA in the ACL)', async () => {
    answers.push(() =>
      Promise.reject(
        replyError("NOPERM this user has no permissions to run the 'evalsha' command"),
      ),
    );
    await send(batch);
    await send([['s1', '1-3', undefined]]);
    expect(scriptCalls).toHaveLength(1);
    expect(multis).toHaveLength(2);
    expect(results.get('1-3')).toEqual({ applied: true, error: undefined });
  });

  it('sends the call again when Redis has lost the script (NOSCRIPT)', async () => {
    answers.push(() => Promise.reject(replyError('NOSCRIPT No matching script.')));
    answers.push(() => Promise.resolve(['1-1', '1-2', '1-3', 2, 1]));
    await send(batch);
    expect(scriptCalls).toHaveLength(2);
    expect(scriptCalls[1]).toEqual(scriptCalls[0]);
    expect(multis).toHaveLength(0);
    expect([...results.values()].every((result) => result.applied)).toBe(true);
  });

  it('fails every entry, sending nothing more, when the reply is lost', async () => {
    const lost = new Error('Connection is closed.');
    answers.push(() => Promise.reject(lost));
    await send(batch);
    expect(multis).toHaveLength(0);
    expect([...results.values()]).toEqual([
      { applied: false, error: lost },
      { applied: false, error: lost },
      { applied: false, error: lost },
    ]);
  });
});

describe('ScriptCall', () => {
  it('sends the field names of outputs alike once per batch, and only the values per output', () => {
    const call = new ScriptCall();
    const options = ['*'];
    call.call('MULTI');
    call.xaddFields('out', options, ['id', 'a', 'data', '{}']);
    call.xaddFields('out', options, ['id', 'b', 'data', '[]']);
    call.xaddFields('other', options, ['id', 'c', 'subject', 's', 'data', '1']);
    call.xack('in', 'printery-validator', '1-1', '1-2', '1-3');
    call.call('EXEC');
    expect(call.keys).toEqual(['out', 'other', 'in']);
    expect(call.argv).toEqual([
      6,
      ...['FIELDS', 0, 4, 1, '*', 'id', 'data'],
      ...['XADDF', 1, 3, 1, 'a', '{}'],
      ...['XADDF', 1, 3, 1, 'b', '[]'],
      ...['FIELDS', 0, 5, 1, '*', 'id', 'subject', 'data'],
      ...['XADDF', 2, 4, 2, 'c', 's', '1'],
      ...['XACK', 3, 4, 'printery-validator', '1-1', '1-2', '1-3'],
    ]);
    // MULTI, three XADDs, one XACK, EXEC: replies index as EXEC's do.
    expect(call.length).toBe(6);
  });
});
