#!/usr/bin/env node
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli/cli.module';
import { EXIT } from './cli/exit-codes';
import { reportError } from './cli/report-error';

const HELP_OR_VERSION = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

async function main(): Promise<void> {
  await CommandFactory.run(CliModule, {
    cliName: 'printery-workers',
    logger: ['error'],
    abortOnError: false,
    errorHandler: (error) => {
      // Usage errors (unknown command or flag, missing argument) are exit 2 per SPEC §5.
      const code = (error as { code?: string }).code ?? '';
      process.exit(HELP_OR_VERSION.has(code) ? EXIT.ok : EXIT.invalidConfig);
    },
    serviceErrorHandler: (error) => {
      process.exitCode = reportError(error);
    },
  });
}

main().then(
  // Exit explicitly: a stray timer or socket in a library must not keep a
  // stopped service alive past its drain.
  () => process.exit(process.exitCode ?? EXIT.ok),
  (error: unknown) => process.exit(reportError(error)),
);
