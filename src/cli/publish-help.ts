/**
 * `publish --help`, after the options: the request's fields (SPEC §1,
 * `deployment:started` data) and which allow-lists the CLI checks with.
 */
export const PUBLISH_HELP = `
The request (JSON; examples/deployment.json and one per failure kind in examples/):
  deploymentId   required  unique id of this deployment, no spaces (at most 200 characters)
  service        required  DNS-1123 label: lowercase letters, digits and "-" (billing-api)
  version        required  semantic version (1.4.2)
  environment    required  one of DEPLOY_ENVIRONMENTS (development, staging, production)
  artifact       required  image reference (registry.example.com/billing-api:1.4.2)
  dependencies   optional  [{ "service": "auth-api", "version": "^2.0.0" }]: checked
                           against the registry of the same environment
  healthCheck    required  { "url": "http(s)://…", "expectedStatus": 200, "timeoutMs": 2000,
                           "intervalMs": 1000, "maxAttempts": 10 }; only url is required, the
                           numbers are capped by HEALTHCHECK_MAX_*
  notify         optional  [{ "type": "webhook" | "slack", "url": "https://…" }]
  requestedBy    optional  who asked (at most 200 characters)

Hosts are checked against HEALTHCHECK_ALLOWED_HOSTS and NOTIFY_ALLOWED_HOSTS as
this shell sets them (empty: any public host, in development only). The
running service checks again with its own environment, which may differ.
`;
