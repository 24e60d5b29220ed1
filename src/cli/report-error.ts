import { ConfigError } from '../errors';
import { redactText } from '../logging/redact';
import { EXIT } from './exit-codes';

/**
 * Prints a command failure to stderr, one line per problem, free of secrets,
 * and returns the exit code it deserves.
 */
export function reportError(error: unknown): number {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) {
      process.stderr.write(`printery-workers: ${redactText(problem)}\n`);
    }
    return EXIT.invalidConfig;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`printery-workers: ${redactText(message)}\n`);
  return EXIT.runtimeFailure;
}
