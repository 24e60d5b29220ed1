import { Module } from '@nestjs/common';
import { ConfigCommand } from './config.command';
import { DlqCommand } from './dlq.command';
import { DlqListCommand } from './dlq-list.command';
import { DlqPurgeCommand } from './dlq-purge.command';
import { DlqReplayCommand } from './dlq-replay.command';
import { DlqShowCommand } from './dlq-show.command';
import { FollowCommand } from './follow.command';
import { PublishCommand } from './publish.command';
import { RunCommand } from './run.command';
import { StatusCommand } from './status.command';
import {
  RegistryCommand,
  RegistryListCommand,
  RegistryRemoveCommand,
  RegistrySetCommand,
} from './registry.command';
import { RegistryShowCommand } from './registry-show.command';

/** The command-line surface: one provider per subcommand. */
@Module({
  providers: [
    RunCommand,
    ConfigCommand,
    StatusCommand,
    PublishCommand,
    FollowCommand,
    RegistryCommand,
    RegistryListCommand,
    RegistryShowCommand,
    RegistrySetCommand,
    RegistryRemoveCommand,
    DlqCommand,
    DlqListCommand,
    DlqShowCommand,
    DlqReplayCommand,
    DlqPurgeCommand,
  ],
})
export class CliModule {}
