import { Module } from '@nestjs/common';
import { WorkersModule } from '../workers/workers.module';
import { SupervisorService } from './supervisor.service';

@Module({
  imports: [WorkersModule],
  providers: [SupervisorService],
  exports: [SupervisorService],
})
export class SupervisorModule {}
