import { Command } from 'nest-commander';
import { DlqListCommand } from './dlq-list.command';
import { DlqPurgeCommand } from './dlq-purge.command';
import { DlqReplayCommand } from './dlq-replay.command';
import { DlqShowCommand } from './dlq-show.command';
import { CommandGroup } from './one-shot';

@Command({
  name: 'dlq',
  description: 'inspect and re-drive dead letters (list, show, replay, purge)',
  subCommands: [DlqListCommand, DlqShowCommand, DlqReplayCommand, DlqPurgeCommand],
})
export class DlqCommand extends CommandGroup {}
