import type Redis from 'ioredis';
import { CommitBatcher } from './commit-batcher';
import type { CommitDone, CommitWrites } from './commit-layout';
import type { PipelineReplies } from './commit-replies';
import { ClaimLostError, StopDeadlineError } from './contracts';
import { type Task, newTask, taskKey } from './task';

type Command = Array<string | number>;
type Responder = (commands: Command[]) => Promise<PipelineReplies | null>;

/** Records what a batch would send; its exec() answers with the next scripted replies. */
class RecordingPipeline {
  readonly commands: Command[] = [];
  constructor(private readonly respond: Responder) {}
  get length(): number {
    return this.commands.length;
  }
  call(...args: Command): this {
    this.commands.push(args);
    return this;
  }
  xadd(...args: Command): this {
    return this.call('XADD', ...args);
  }
  xack(...args: Command): this {
    return this.call('XACK', ...args);
  }
  exec(): Promise<PipelineReplies | null> {
    return this.respond(this.commands);
  }
}

/** EXEC ran: every command queued, each with a plain reply unless `inside` says otherwise. */
const applied =
  (inside: Record<number, Error> = {}): Responder =>
  (commands) =>
    Promise.resolve(
      commands.map((_, at): [Error | null, unknown] =>
        at === commands.length - 1
          ? [null, commands.slice(1, -1).map((__, i) => inside[i + 1] ?? 'ok')]
          : [null, 'QUEUED'],
      ),
    );

/** Redis refused the commands at `refused` at queue time and discarded the MULTI. */
const discarded =
  (refused: Record<number, Error>): Responder =>
  (commands) =>
    Promise.resolve(
      commands.map((_, at): [Error | null, unknown] =>
        at === commands.length - 1
          ? [new Error('EXECABORT Transaction discarded because of previous errors.'), null]
          : [refused[at] ?? null, refused[at] ? undefined : 'QUEUED'],
      ),
    );

const noPerm = new Error('NOPERM No permissions to access a key');

describe('CommitBatcher', () => {
  let sent: RecordingPipeline[];
  let responders: Responder[];
  let deadline: AbortController;
  let batcher: CommitBatcher;
  let results: Map<string, { applied: boolean; error: unknown }>;

  beforeEach(() => {
    sent = [];
    responders = [];
    results = new Map();
    deadline = new AbortController();
    const client = {
      pipeline: () => {
        const pipeline = new RecordingPipeline(responders.shift() ?? applied());
        sent.push(pipeline);
        return pipeline;
      },
    } as unknown as Redis;
    batcher = new CommitBatcher(
      { client, run: (reply) => reply },
      'printery-notifier',
      deadline.signal,
      false,
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
  /** Sends one batch of [stream, id, writes] entries and waits for every reply. */
  async function send(
    entries: Array<[string, string, CommitWrites | undefined, Task?]>,
  ): Promise<void> {
    batcher.send(
      entries.map(([stream, id, writes, given]) => ({
        task: given ?? task(stream, id),
        writes,
        done: recordAs(id),
        first: 0,
        written: 0,
        ackAt: 0,
      })),
    );
    await new Promise((resolve) => setImmediate(resolve));
  }

  it('sends one MULTI: every write in order, then one XACK per stream, then EXEC', async () => {
    await send([
      ['s1', '1-1', outputs('a1', 'a2')],
      ['s2', '2-1', undefined],
      ['s1', '1-2', outputs('c1')],
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.commands).toEqual([
      ['MULTI'],
      ['XADD', 'out', '*', 'of', 'a1'],
      ['XADD', 'out', '*', 'of', 'a2'],
      ['XADD', 'out', '*', 'of', 'c1'],
      ['XACK', 's1', 'printery-notifier', '1-1', '1-2'],
      ['XACK', 's2', 'printery-notifier', '2-1'],
      ['EXEC'],
    ]);
    expect([...results.values()]).toEqual([
      { applied: true, error: undefined },
      { applied: true, error: undefined },
      { applied: true, error: undefined },
    ]);
  });

  it('reports a command that failed inside the EXEC to its own entry only', async () => {
    const wrongType = new Error(
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    );
    responders.push(applied({ 3: wrongType }));
    await send([
      ['s1', '1-1', outputs('a1', 'a2')],
      ['s1', '1-2', outputs('c1')],
    ]);
    expect(results.get('1-1')).toEqual({ applied: true, error: undefined });
    expect(results.get('1-2')).toEqual({ applied: true, error: wrongType });
  });

  it('after an EXECABORT, fails the refused entries with their refusal and sends the rest again', async () => {
    responders.push(discarded({ 2: noPerm }));
    await send([
      ['s1', '1-1', outputs('a1')],
      ['s1', '1-2', outputs('denied')],
      ['s2', '2-1', undefined],
    ]);
    expect(results.get('1-2')).toEqual({ applied: false, error: noPerm });
    expect(sent).toHaveLength(2);
    expect(sent[1]?.commands).toEqual([
      ['MULTI'],
      ['XADD', 'out', '*', 'of', 'a1'],
      ['XACK', 's1', 'printery-notifier', '1-1'],
      ['XACK', 's2', 'printery-notifier', '2-1'],
      ['EXEC'],
    ]);
    expect(results.get('1-1')).toEqual({ applied: true, error: undefined });
    expect(results.get('2-1')).toEqual({ applied: true, error: undefined });
  });

  it('after an EXECABORT that singles out no entry, fails them all with it and sends nothing more', async () => {
    responders.push(discarded({ 0: new Error('NOPERM multi') }));
    await send([
      ['s1', '1-1', outputs('a1')],
      ['s1', '1-2', undefined],
    ]);
    expect(sent).toHaveLength(1);
    for (const id of ['1-1', '1-2']) {
      expect(results.get(id)?.applied).toBe(false);
      expect(String(results.get(id)?.error)).toMatch(/^Error: EXECABORT/);
    }
  });

  it('fails every entry with the error when the reply is lost', async () => {
    const lost = new Error('connection closed while a command was in flight');
    responders.push(() => Promise.reject(lost));
    await send([
      ['s1', '1-1', outputs('a1')],
      ['s1', '1-2', undefined],
    ]);
    expect([...results.values()]).toEqual([
      { applied: false, error: lost },
      { applied: false, error: lost },
    ]);
  });

  it('sends nothing when a writes callback throws, and fails every entry with its error', async () => {
    const bug = new Error('bug in writes');
    await send([
      ['s1', '1-1', outputs('a1')],
      [
        's1',
        '1-2',
        () => {
          throw bug;
        },
      ],
    ]);
    expect(sent.map((pipeline) => pipeline.commands.at(-1))).toEqual([
      ['XADD', 'out', '*', 'of', 'a1'],
    ]);
    expect([...results.values()]).toEqual([
      { applied: false, error: bug },
      { applied: false, error: bug },
    ]);
  });

  it('leaves out an entry whose claim was lost, failing it with ClaimLostError', async () => {
    const lost = task('s1', '1-2');
    lost.claimLost = true;
    await send([
      ['s1', '1-1', undefined],
      ['s1', '1-2', outputs('theirs'), lost],
    ]);
    expect(sent[0]?.commands).toEqual([
      ['MULTI'],
      ['XACK', 's1', 'printery-notifier', '1-1'],
      ['EXEC'],
    ]);
    expect(results.get('1-2')?.error).toBeInstanceOf(ClaimLostError);
  });

  it('sends nothing once the stop deadline has passed', async () => {
    deadline.abort();
    await send([['s1', '1-1', undefined]]);
    expect(sent).toHaveLength(0);
    expect(results.get('1-1')?.error).toBeInstanceOf(StopDeadlineError);
  });

  it('gathers what is added in one turn into one MULTI, or sends it at once on flush()', async () => {
    batcher.add(task('s1', '1-1'), undefined, recordAs('1-1'));
    batcher.add(task('s1', '1-2'), undefined, recordAs('1-2'));
    expect(sent).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toHaveLength(1);
    batcher.add(task('s1', '1-3'), undefined, recordAs('1-3'));
    batcher.flush();
    expect(sent).toHaveLength(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map((pipeline) => pipeline.commands[1])).toEqual([
      ['XACK', 's1', 'printery-notifier', '1-1', '1-2'],
      ['XACK', 's1', 'printery-notifier', '1-3'],
    ]);
    expect(results.size).toBe(3);
  });
});
