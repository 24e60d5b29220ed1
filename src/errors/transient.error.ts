/** A failure worth retrying: the entry stays pending and is redelivered. */
export class TransientError extends Error {
  override readonly name = 'TransientError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
