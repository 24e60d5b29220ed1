import { compareStreamIds } from './stream-ids';

describe('compareStreamIds', () => {
  it.each([
    ['1-0', '2-0', -1],
    ['2-0', '1-0', 1],
    ['5-1', '5-1', 0],
    ['5-2', '5-10', -1],
    ['999-0', '1000-0', -1],
    ['1700000000000-5', '1700000000000-12', -1],
    ['0', '0-0', 0],
    ['0', '1-0', -1],
    ['18446744073709551615-0', '18446744073709551614-99', 1],
  ])('orders %s against %s as %d', (a, b, expected) => {
    expect(compareStreamIds(a, b)).toBe(expected);
  });
});
