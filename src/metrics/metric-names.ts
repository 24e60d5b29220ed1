/** Metric names from SPEC §6; the one place they are spelled. */
export const METRIC = {
  workerUp: 'printery_worker_up',
  workerRestarts: 'printery_worker_restarts_total',
  workerUptime: 'printery_worker_uptime_seconds',
  workerErrors: 'printery_worker_errors_total',
  workerInFlight: 'printery_worker_in_flight',
  eventsProcessed: 'printery_events_processed_total',
  eventProcessingSeconds: 'printery_event_processing_seconds',
  streamPending: 'printery_stream_pending',
  streamLag: 'printery_stream_lag',
  streamLength: 'printery_stream_length',
  streamOldestPendingAge: 'printery_stream_oldest_pending_age_seconds',
  deadLetters: 'printery_dead_letters_total',
  deployments: 'printery_deployments_total',
  notifications: 'printery_notifications_total',
  redisUp: 'printery_redis_up',
  registryWrites: 'printery_registry_writes_total',
} as const;
