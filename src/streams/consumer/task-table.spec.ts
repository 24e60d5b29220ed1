import { HandlerTimeoutError } from './contracts';
import { type Task, newTask, taskKey, taskSignal } from './task';
import { TaskTable } from './task-table';

describe('TaskTable', () => {
  let gauge: number[];
  let table: TaskTable;

  beforeEach(() => {
    jest.useFakeTimers();
    gauge = [];
    table = new TaskTable(2, 1000, { set: (value) => gauge.push(value) });
  });

  afterEach(() => {
    table.stopSweep();
    jest.useRealTimers();
  });

  const task = (id: string): Task =>
    newTask(taskKey('s', id), 's', 'deployment:started', id, [], 1);

  it('counts free slots down to none and back as tasks come and go', () => {
    const [a, b] = [task('1-1'), task('1-2')];
    table.add(a);
    table.add(b);
    expect(table.freeSlots).toBe(0);
    expect(table.has(a.key)).toBe(true);
    table.release(a);
    expect(table.freeSlots).toBe(1);
    expect(table.has(a.key)).toBe(false);
  });

  it('sets the in-flight gauge once per turn, not once per change', () => {
    table.add(task('1-1'));
    table.add(task('1-2'));
    table.release(task('1-1'));
    expect(gauge).toEqual([]);
    jest.runOnlyPendingTimers();
    expect(gauge).toEqual([1]);
  });

  it('wakes a wait for a slot when one is freed, when it times out, or when reading stops', async () => {
    const stop = new AbortController();
    const woken: string[] = [];
    const a = task('1-1');
    table.add(a);
    void table.waitForSlot(60_000, stop.signal).then(() => woken.push('freed'));
    table.release(a);
    void table.waitForSlot(500, stop.signal).then(() => woken.push('timed out'));
    await jest.advanceTimersByTimeAsync(500);
    void table.waitForSlot(60_000, stop.signal).then(() => woken.push('stopped'));
    stop.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(woken).toEqual(['freed', 'timed out', 'stopped']);
  });

  it('fails a handler past its timeout once, through its expire callback and its signal', async () => {
    const a = task('1-1');
    const expired: Error[] = [];
    table.add(a);
    table.startSweep();
    a.handlerStartedAt = Date.now();
    a.handlerRunning = true;
    a.expire = (error) => expired.push(error);
    const signal = taskSignal(a);
    await jest.advanceTimersByTimeAsync(750);
    expect(expired).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(500);
    expect(expired).toHaveLength(1);
    expect(expired[0]).toBeInstanceOf(HandlerTimeoutError);
    expect(signal.aborted).toBe(true);
    expect(a.timedOut).toBe(true);
    expect(table.overdue).toBe(1);
    await jest.advanceTimersByTimeAsync(2000);
    expect(expired).toHaveLength(1);
  });

  it('waits until the table is empty, or until the deadline', async () => {
    const [a, b] = [task('1-1'), task('1-2')];
    table.add(a);
    table.add(b);
    let empty = false;
    void table.waitUntilEmpty(Date.now() + 10_000).then(() => {
      empty = true;
    });
    table.release(a);
    await jest.advanceTimersByTimeAsync(0);
    expect(empty).toBe(false);
    table.release(b);
    await jest.advanceTimersByTimeAsync(0);
    expect(empty).toBe(true);

    table.add(a);
    let gaveUp = false;
    void table.waitUntilEmpty(Date.now() + 300).then(() => {
      gaveUp = true;
    });
    await jest.advanceTimersByTimeAsync(300);
    expect(gaveUp).toBe(true);
  });
});
