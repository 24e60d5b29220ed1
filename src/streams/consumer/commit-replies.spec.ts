import type { CommitSlot } from './commit-layout';
import {
  type PipelineReplies,
  failedInside,
  readExec,
  refusal,
  splitDiscarded,
} from './commit-replies';
import { ConnectionLostError } from './redis-wait';

// Hand-made replies of one shared MULTI, as ioredis gives them for the
// pipeline MULTI, XADD a1, XADD a2, XADD c1, XACK s1 (a, c), XACK s2 (b), EXEC:
// entry a writes twice on s1, b only acks on s2, c writes once on s1.
const a: CommitSlot = { first: 1, written: 2, ackAt: 4 };
const b: CommitSlot = { first: 3, written: 0, ackAt: 5 };
const c: CommitSlot = { first: 3, written: 1, ackAt: 4 };
const EXEC = 6;

const queued = (): PipelineReplies => Array.from({ length: EXEC }, () => [null, 'QUEUED']);
const wrongType = new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
const noPerm = new Error("NOPERM No permissions to access the 'p:dependency:checked' key");
const execAbort = new Error('EXECABORT Transaction discarded because of previous errors.');

/** The pipeline's replies with `at` replaced. */
function withReply(replies: PipelineReplies, at: number, reply: [Error | null, unknown]) {
  const copy = [...replies];
  copy[at] = reply;
  return copy;
}

describe('readExec', () => {
  it('reads an EXEC that ran as applied, with its results', () => {
    const results = ['1-1', '1-2', '1-3', 2, 1];
    expect(readExec(withReply(queued(), EXEC, [null, results]), EXEC)).toEqual({
      kind: 'applied',
      results,
    });
  });

  it('reads EXECABORT as discarded: nothing was applied', () => {
    const replies = withReply(withReply(queued(), 3, [noPerm, undefined]), EXEC, [execAbort, null]);
    expect(readExec(replies, EXEC)).toEqual({ kind: 'discarded', error: execAbort });
  });

  it('reads any other EXEC error as unknown: the connection may have gone after EXEC was sent', () => {
    const lost = new Error('Connection is closed.');
    expect(readExec(withReply(queued(), EXEC, [lost, undefined]), EXEC)).toEqual({
      kind: 'unknown',
      error: lost,
    });
  });

  it.each([
    ['no replies at all', null],
    ['no replies (undefined)', undefined],
    ['replies that stop before EXEC', queued().slice(0, 3)],
  ])('reads %s as unknown, a lost connection', (_, replies) => {
    const reading = readExec(replies, EXEC);
    expect(reading.kind).toBe('unknown');
    expect(reading.kind !== 'applied' && reading.error).toBeInstanceOf(ConnectionLostError);
    expect(reading.kind !== 'applied' && reading.error.message).toBe('no EXEC reply');
  });

  it('reads an EXEC without an array (nil) as unknown', () => {
    const reading = readExec(withReply(queued(), EXEC, [null, null]), EXEC);
    expect(reading).toEqual({ kind: 'unknown', error: expect.any(ConnectionLostError) });
    expect(reading.kind !== 'applied' && reading.error.message).toBe('EXEC returned no reply');
  });
});

describe('failedInside', () => {
  // EXEC's results line up with the pipeline without its MULTI.
  const ok = (): unknown[] => ['1-1', '1-2', '1-3', 2, 1];

  it('finds nothing when every command of the entry succeeded', () => {
    for (const slot of [a, b, c]) {
      expect(failedInside(ok(), slot)).toBeUndefined();
    }
  });

  it('singles out the entry whose write failed, and only it', () => {
    const results = ok();
    results[2] = wrongType; // c's XADD
    expect(failedInside(results, c)).toBe(wrongType);
    expect(failedInside(results, a)).toBeUndefined();
    expect(failedInside(results, b)).toBeUndefined();
  });

  it("reports an entry's first failed write", () => {
    const first = new Error('WRONGTYPE first');
    const results = ok();
    results[0] = first;
    results[1] = wrongType;
    expect(failedInside(results, a)).toBe(first);
  });

  it("reports a failed XACK for every entry of that stream, after the entry's own writes", () => {
    const ackFailed = new Error('WRONGTYPE ack');
    const results = ok();
    results[3] = ackFailed; // XACK s1
    expect(failedInside(results, a)).toBe(ackFailed);
    expect(failedInside(results, c)).toBe(ackFailed);
    expect(failedInside(results, b)).toBeUndefined();
    results[2] = wrongType;
    expect(failedInside(results, c)).toBe(wrongType);
  });
});

describe('refusal', () => {
  it("finds the error Redis refused one of the entry's commands with at queue time", () => {
    const replies = withReply(queued(), 2, [noPerm, undefined]); // a's second XADD
    expect(refusal(replies, a)).toBe(noPerm);
    expect(refusal(replies, b)).toBeUndefined();
    expect(refusal(replies, c)).toBeUndefined();
  });

  it('blames a refused XACK on every entry of its stream', () => {
    const replies = withReply(queued(), 5, [noPerm, undefined]); // XACK s2
    expect(refusal(replies, b)).toBe(noPerm);
    expect(refusal(replies, a)).toBeUndefined();
  });
});

describe('splitDiscarded', () => {
  const discarded = (replies: PipelineReplies) => withReply(replies, EXEC, [execAbort, null]);

  it('fails the refused entries with their own error and keeps the others to send again', () => {
    const replies = discarded(withReply(queued(), 3, [noPerm, undefined])); // c's XADD
    expect(splitDiscarded([a, b, c], replies)).toEqual({
      refused: [{ item: c, error: noPerm }],
      innocent: [a, b],
    });
  });

  it('leaves nothing to send again when every entry was refused', () => {
    const denied = new Error('NOPERM other');
    let replies = withReply(queued(), 1, [noPerm, undefined]);
    replies = withReply(replies, 3, [denied, undefined]);
    replies = discarded(withReply(replies, 5, [noPerm, undefined]));
    expect(splitDiscarded([a, b, c], replies)).toEqual({
      refused: [
        { item: a, error: noPerm },
        { item: b, error: noPerm },
        { item: c, error: denied },
      ],
      innocent: [],
    });
  });

  it('has nothing to single out when no entry command was refused (e.g. MULTI itself)', () => {
    const replies = discarded(withReply(queued(), 0, [new Error('NOPERM multi'), undefined]));
    expect(splitDiscarded([a, b, c], replies)).toBeUndefined();
  });
});
