import type { EntrySpan, EntryTracer, RequestSpan, Tracing } from './tracing';

/** Tracing off: every call is a no-op on a shared object, so the hot path allocates nothing for it. */
export const NOOP_REQUEST_SPAN: RequestSpan = {
  answered: () => undefined,
  failed: () => undefined,
  end: () => undefined,
};

export const NOOP_ENTRY_SPAN: EntrySpan = {
  traceparent: undefined,
  startRequest: () => NOOP_REQUEST_SPAN,
  succeeded: () => undefined,
  failed: () => undefined,
  end: () => undefined,
};

export const NOOP_ENTRY_TRACER: EntryTracer = {
  start: () => NOOP_ENTRY_SPAN,
};

export const NOOP_TRACING: Tracing = {
  enabled: false,
  forConsumer: () => NOOP_ENTRY_TRACER,
  shutdown: () => Promise.resolve(),
};
