import { Module } from '@nestjs/common';
import { ConfigCommand } from './config.command';
import { RunCommand } from './run.command';

/** The command-line surface: one provider per subcommand. */
@Module({
  providers: [RunCommand, ConfigCommand],
})
export class CliModule {}
