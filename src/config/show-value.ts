import { REDACTED_MARK, redactText, redactUrlPath } from '../logging/redact';
import { toList } from './parsers';
import type { SettingDef } from './settings';

/**
 * Credentials masked in text that may not even parse as a URL: everything
 * between the scheme (when there is one) and the last `@` is userinfo, and
 * the part after its first `:` the password.
 */
function maskUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  if (at === -1) {
    return text;
  }
  // A scheme with any number of slashes, `redis:/` and `redis//` typos included.
  const scheme = /^[a-z][a-z0-9+.-]*:?\/+|^[a-z][a-z0-9+.-]*:(?=[^/]*:)/i.exec(text)?.[0] ?? '';
  const start = scheme.length < at ? scheme.length : 0;
  const userinfo = text.slice(start, at);
  const colon = userinfo.indexOf(':');
  const masked = colon === -1 ? REDACTED_MARK : `${userinfo.slice(0, colon)}:${REDACTED_MARK}`;
  return `${text.slice(0, start)}${masked}${text.slice(at)}`;
}

/** Secret URLs worth showing (host, port, path) once their credentials are masked. */
const MASKED_URLS = new Set(['redis.url', 'tracing.endpoint', 'tracing.tracesEndpoint']);

/** `host:port` lists: shown, with the credentials of anything URL-like masked. */
const HOST_LISTS = new Set(['redis.sentinels', 'redis.clusterNodes']);

/** Shows a raw value in an error line or `config` output without leaking a secret. */
export function showValue(def: SettingDef, raw: unknown): string {
  if (HOST_LISTS.has(def.path)) {
    // Not secret, but a mistyped one may well carry a URL with a password in it.
    const mask = (item: string): string => maskUserinfo(redactText(item));
    if (typeof raw === 'string') {
      return JSON.stringify(raw.split(',').map(mask).join(','));
    }
    const list = toList(raw);
    return JSON.stringify(list ? list.map(mask) : raw);
  }
  if (!def.secret) {
    return JSON.stringify(raw);
  }
  if (MASKED_URLS.has(def.path) && typeof raw === 'string') {
    // Worth showing (host, port, db) once the password is out (SPEC §5).
    // Whether or not it parses: `redis:/u:pw@h` is a URL WHATWG accepts with no host.
    return JSON.stringify(maskUserinfo(redactText(raw)));
  }
  if (def.path === 'notify.webhookUrls') {
    const list = toList(raw);
    if (list) {
      return JSON.stringify(
        // Not even a URL: no telling which part is a token.
        list.map((item) => (URL.canParse(item) ? redactUrlPath(item) : REDACTED_MARK)).join(','),
      );
    }
  }
  return '(hidden)';
}
