import { Module } from '@nestjs/common';
import { WorkersModule } from '../workers/workers.module';
import { CLOCK, systemClock } from './clock';
import { SupervisorService } from './supervisor.service';

@Module({
  imports: [WorkersModule],
  providers: [SupervisorService, { provide: CLOCK, useValue: systemClock }],
  exports: [SupervisorService],
})
export class SupervisorModule {}
