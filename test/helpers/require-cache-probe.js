// Preloaded into the real service (node --require) by the tracing tests: on
// SIGTERM, before the service drains, it writes which OpenTelemetry modules
// the process has loaded, and which module first required each, to
// $REQUIRE_CACHE_PROBE_OUT. Plain JavaScript: it runs before anything else.
'use strict';

const { writeFileSync } = require('node:fs');

const out = process.env.REQUIRE_CACHE_PROBE_OUT;
if (out) {
  process.prependListener('SIGTERM', () => {
    const loaded = Object.keys(require.cache)
      .filter((file) => file.includes('/node_modules/@opentelemetry/'))
      .map((file) => ({ file, parent: require.cache[file]?.parent?.filename ?? null }));
    writeFileSync(out, JSON.stringify(loaded));
  });
}
