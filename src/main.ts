#!/usr/bin/env node
// First: before nest-commander loads (see the file).
import './cli/lazy-inquirer';
import 'reflect-metadata';
import type { Command as Commander, CommanderError } from 'commander';
import { CommandFactory, CommandRunnerService } from 'nest-commander';
import { CliModule } from './cli/cli.module';
import { EXIT } from './cli/exit-codes';
import { reportError } from './cli/report-error';

const HELP_OR_VERSION = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** Usage errors (unknown command or flag, missing argument) exit 2 per SPEC §5; help exits 0. */
function onUsageError(error: Error): never {
  const code = (error as Partial<CommanderError>).code ?? '';
  process.exit(HELP_OR_VERSION.has(code) ? EXIT.ok : EXIT.invalidConfig);
}

/**
 * nest-commander applies `errorHandler` to the root command only; commander
 * does not pass it on to subcommands, so every level gets it here.
 */
function overrideExits(command: Commander): void {
  command.name('printery-workers');
  const walk = (node: Commander): void => {
    node.exitOverride(onUsageError);
    node.allowExcessArguments(false);
    node.showHelpAfterError('(run with --help for usage)');
    node.configureOutput({ outputError: (text, write) => write(`printery-workers: ${text}`) });
    node.commands.forEach(walk);
  };
  walk(command);
}

/**
 * `run` is the default command, so commander would read a mistyped command
 * (`printery-workers stauts`) as `run` with a stray argument. Name it for
 * what it is instead.
 */
function refuseUnknownCommand(command: Commander, argv: readonly string[]): void {
  let node = command;
  let path = '';
  for (const word of argv) {
    if (word.startsWith('-') || node.commands.length === 0) {
      return;
    }
    const next = node.commands.find((sub) => sub.name() === word || sub.aliases().includes(word));
    if (!next) {
      if (word === 'help') {
        return;
      }
      const known = node.commands.map((sub) => sub.name());
      process.stderr.write(
        `printery-workers: unknown command '${path}${word}'; expected one of ${known.join(', ')} (run with --help for usage)\n`,
      );
      process.exit(EXIT.invalidConfig);
    }
    node = next;
    path += `${word} `;
  }
}

async function main(): Promise<void> {
  const app = await CommandFactory.createWithoutRunning(CliModule, {
    logger: ['error'],
    abortOnError: false,
    errorHandler: onUsageError,
    serviceErrorHandler: (error) => {
      process.exitCode = reportError(error);
    },
  });
  const runner = app.get(CommandRunnerService);
  const commander = (runner as unknown as { commander: Commander }).commander;
  overrideExits(commander);
  refuseUnknownCommand(commander, process.argv.slice(2));
  try {
    await CommandFactory.runApplication(app);
  } finally {
    await app.close();
  }
}

main().then(
  // Exit explicitly: a stray timer or socket in a library must not keep a
  // stopped service alive past its drain.
  () => process.exit(process.exitCode ?? EXIT.ok),
  (error: unknown) => process.exit(reportError(error)),
);
