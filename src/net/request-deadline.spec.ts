import { RequestDeadline } from './request-deadline';

describe('RequestDeadline', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts with a TimeoutError once the timeout passes, and says it timed out', () => {
    const deadline = new RequestDeadline(new AbortController().signal, 100);
    jest.advanceTimersByTime(99);
    expect(deadline.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as DOMException).name).toBe('TimeoutError');
    expect(deadline.timedOut).toBe(true);
  });

  it("aborts with the parent's reason when the parent aborts, without timing out", () => {
    const parent = new AbortController();
    const deadline = new RequestDeadline(parent.signal, 100);
    const reason = new Error('handler timed out');
    parent.abort(reason);
    expect(deadline.signal.reason).toBe(reason);
    expect(deadline.timedOut).toBe(false);
  });

  it('starts aborted under a parent that already is', () => {
    const parent = new AbortController();
    parent.abort(new Error('stop deadline'));
    expect(new RequestDeadline(parent.signal, 100).signal.aborted).toBe(true);
  });

  it('lets go of the parent and the timer once done', () => {
    const parent = new AbortController();
    const deadline = new RequestDeadline(parent.signal, 100);
    deadline.done();
    expect(jest.getTimerCount()).toBe(0);
    parent.abort(new Error('later'));
    expect(deadline.signal.aborted).toBe(false);
  });
});
