/**
 * Secret scrubbing shared by the logger, `/status`, the `config` command and
 * error messages. Three layers, because secrets arrive in three shapes:
 * known values (a Redis password, the webhook secret) registered at config
 * load, credentials embedded in URLs, and credential-looking query parameters
 * or object keys.
 */
const REDACTED = '[REDACTED]';
const knownSecrets = new Set<string>();

// The password runs to the LAST '@' of the authority, as WHATWG URL and
// ioredis read it: `redis://u:p@ss@host` has the password `p@ss`.
const URL_CREDENTIALS =
  /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::([^\s/]*))?@(?=[^\s@/]*(?:[/\s]|$))/gi;
const SECRET_QUERY =
  /([?&](?:token|access_token|key|api_key|apikey|secret|sig|signature|password|auth)=)[^&\s#"']*/gi;
const SECRET_KEY = /pass(word)?|secret|token|authorization|api[-_]?key|credential|signature/i;

/** Remembers a secret value so it is scrubbed wherever it later appears. */
export function registerSecret(value: string | undefined): void {
  // Very short values would redact ordinary words; they are not real secrets anyway.
  if (value && value.length >= 4) {
    knownSecrets.add(value);
  }
}

/** Scrubs secrets out of free text (log messages, error messages, URLs). */
export function redactText(text: string): string {
  let out = text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string, pass?: string) => {
    if (pass === undefined) {
      // `scheme://token@host`: the lone userinfo is the secret.
      return user ? `${scheme}${REDACTED}@` : `${scheme}@`;
    }
    return `${scheme}${user}:${REDACTED}@`;
  });
  out = out.replace(SECRET_QUERY, `$1${REDACTED}`);
  for (const secret of knownSecrets) {
    if (out.includes(secret)) {
      out = out.split(secret).join(REDACTED);
    }
  }
  return out;
}

/** A path segment that reads as a word (`deploys`, `api`, `v2`, `42`), not as an id or a token. */
const PLAIN_SEGMENT = /^(?:[a-z]{1,20}(?:[-_.][a-z]{1,20})*|v\d{1,3}|\d{1,6})?$/i;
const SECRET_WORD = /token|secret|key|sig|pass|auth|cred/i;

/**
 * A URL reduced to what an operator needs to recognise it, free of
 * credentials: no userinfo, no query, no fragment, and the path kept only up
 * to its first segment that could be a credential. Webhook paths routinely
 * carry tokens (Slack's `/services/T0/B0/secret`, Discord's
 * `/api/webhooks/<id>/<token>`): anything with a digit beside letters, a long
 * number, a long run of letters or a credential word is such a segment, and
 * it and all after it become one `[REDACTED]`. A plain path
 * (`/deploys`, `/hooks/printery`) stays, so targets can be told apart.
 */
export function redactUrlPath(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return REDACTED;
  }
  const segments = url.pathname.split('/').slice(1);
  const firstSecret = segments.findIndex(
    (segment) => !PLAIN_SEGMENT.test(segment) || SECRET_WORD.test(segment),
  );
  const kept = firstSecret === -1 ? segments : [...segments.slice(0, firstSecret), REDACTED];
  const path = kept.length === 1 && kept[0] === '' ? '' : `/${kept.join('/')}`;
  return `${url.protocol}//${url.host}${path}${url.search ? `?${REDACTED}` : ''}`;
}

/** Deep copy of a value with secret-looking keys and embedded secrets scrubbed. */
export function redactDeep<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === 'string') {
    return redactText(value) as T;
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (seen.has(value)) {
    return '[Circular]' as T;
  }
  seen.add(value);
  if (Array.isArray(value)) {
    return value.map((item: unknown) => redactDeep(item, seen)) as T;
  }
  if (value instanceof Error) {
    const copy = new Error(redactText(value.message));
    copy.name = value.name;
    copy.stack = value.stack ? redactText(value.stack) : undefined;
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) {
      Object.assign(copy, { code });
    }
    if (value.cause !== undefined) {
      copy.cause = redactDeep(value.cause, seen);
    }
    return copy as T;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    out[key] =
      SECRET_KEY.test(key) && item !== undefined && item !== null && item !== ''
        ? REDACTED
        : redactDeep(item, seen);
  }
  return out as T;
}

export const REDACTED_MARK = REDACTED;
