import { handlerBudgetMs } from './handler-budget';

describe('handlerBudgetMs', () => {
  it('keeps 10 % of a long handler timeout for the work after the probe or delivery', () => {
    expect(handlerBudgetMs(300_000)).toBe(270_000);
  });

  it('keeps at least one second of a short handler timeout', () => {
    expect(handlerBudgetMs(5000)).toBe(4000);
  });

  it('keeps half of a timeout under two seconds, never leaving a zero budget', () => {
    expect(handlerBudgetMs(1000)).toBe(500);
    expect(handlerBudgetMs(1)).toBe(1);
  });
});
