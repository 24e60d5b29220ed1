/**
 * A poison entry: retrying cannot help. The stream runtime acknowledges it and
 * moves it to the dead-letter stream at once with `message` as the reason.
 */
export class InvalidEntryError extends Error {
  override readonly name = 'InvalidEntryError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
