import { Module } from '@nestjs/common';
import { StatusController } from './status.controller';

/** GET /status; reads the global SupervisorService and StreamMetrics. */
@Module({
  controllers: [StatusController],
})
export class StatusModule {}
