/** The process could not reach a dependency in time; the CLI exits 1 with the message. */
export class StartupError extends Error {
  override readonly name = 'StartupError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
