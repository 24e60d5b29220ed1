import { Module } from '@nestjs/common';
import { SupervisorModule } from '../supervisor/supervisor.module';
import { StatusController } from './status.controller';

@Module({
  imports: [SupervisorModule],
  controllers: [StatusController],
})
export class StatusModule {}
