/**
 * Span attribute names. HTTP, URL, server and error attributes are stable in
 * OpenTelemetry's semantic conventions and come from their package; the
 * messaging and CloudEvents ones are still "development" there, and the
 * package asks that those be copied rather than imported from its
 * `incubating` entry point. Names as of @opentelemetry/semantic-conventions
 * 1.45 (semantic conventions 1.3x messaging: `messaging.operation.type`,
 * `messaging.consumer.group.name`).
 */
export {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_CLIENT_ID = 'messaging.client.id';

export const ATTR_CLOUDEVENTS_EVENT_ID = 'cloudevents.event_id';
export const ATTR_CLOUDEVENTS_EVENT_TYPE = 'cloudevents.event_type';
export const ATTR_CLOUDEVENTS_EVENT_SUBJECT = 'cloudevents.event_subject';

/**
 * The service's own attributes, in its own namespace: the conventions have
 * no system-neutral delivery count (only per-system ones such as Service
 * Bus's), nor words for how an entry ended.
 */
export const ATTR_DELIVERY_COUNT = 'printery.message.delivery_count';
export const ATTR_WORKER = 'printery.worker';
/** ok | skipped | retry | dead_letter | abandoned | internal */
export const ATTR_OUTCOME = 'printery.outcome';
/** health_probe | webhook | slack */
export const ATTR_REQUEST = 'printery.request';

/** `messaging.system`: SPEC §8 names it; the conventions list no value for Redis Streams. */
export const MESSAGING_SYSTEM_REDIS = 'redis';
