/**
 * Invalid configuration or usage. Carries every problem found so the operator
 * can fix them all in one go; the CLI prints one line per problem and exits 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(problems.join('\n'), options);
  }
}
