/**
 * Time a handler may spend on outbound work (probing, delivering) so that it
 * still settles, and publishes its outcome, before the stream runtime's
 * `handlerTimeoutMs` aborts it: the timeout minus a margin of 10 %, at
 * least 1 s (but never more than half the timeout) for the writes that
 * follow.
 */
export function handlerBudgetMs(handlerTimeoutMs: number): number {
  const margin = Math.max(Math.ceil(handlerTimeoutMs / 10), Math.min(1000, handlerTimeoutMs / 2));
  return Math.max(1, Math.floor(handlerTimeoutMs - margin));
}
