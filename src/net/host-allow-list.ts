import ipaddr from 'ipaddr.js';

/** Outcome of an allow-list check; `reason` is safe to show to operators and requesters. */
export type HostCheck = { allowed: true } | { allowed: false; reason: string };

/** Hosts that expose cloud instance credentials; never reachable, whatever the allow-list says. */
const METADATA_HOSTNAMES = new Set(['metadata', 'metadata.google.internal']);
const METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254'].map((a) => ipaddr.parse(a));
const LINK_LOCAL: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [
  ipaddr.parseCIDR('169.254.0.0/16'),
  ipaddr.parseCIDR('fe80::/10'),
];

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

type Entry =
  | { kind: 'exact'; host: string }
  | { kind: 'suffix'; suffix: string }
  | { kind: 'address'; address: ipaddr.IPv4 | ipaddr.IPv6 }
  | { kind: 'cidr'; range: [ipaddr.IPv4 | ipaddr.IPv6, number] };

/** Lower-case, no trailing dot, no IPv6 brackets: the form URL hostnames are compared in. */
function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[(.*)\]$/, '$1');
}

/** Parses an IP literal; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes the IPv4 it carries. */
function parseAddress(host: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  // ipaddr.isValid accepts legacy forms like "127.1"; WHATWG URL has already
  // normalised those in hostnames, so only canonical literals count here.
  if (!ipaddr.IPv4.isValidFourPartDecimal(host) && !ipaddr.IPv6.isValid(host)) {
    return undefined;
  }
  return ipaddr.process(host);
}

function sameAddress(a: ipaddr.IPv4 | ipaddr.IPv6, b: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return a.kind() === b.kind() && a.toNormalizedString() === b.toNormalizedString();
}

function inRange(address: ipaddr.IPv4 | ipaddr.IPv6, range: [ipaddr.IPv4 | ipaddr.IPv6, number]) {
  return address.kind() === range[0].kind() && address.match(range);
}

/**
 * IPv4 addresses an IPv6 address hands traffic on to, by the translation
 * schemes that embed one: NAT64 (64:ff9b::/96, and 64:ff9b:1::/48 read in
 * every layout a /48, /56, /64 or /96 prefix gives, RFC 6052 §2.2 and RFC
 * 8215), SIIT (::ffff:0:0:0/96),
 * 6to4 (2002::/16), Teredo
 * (2001::/32, client address inverted) and the deprecated IPv4-compatible
 * form (::a.b.c.d). A gateway would deliver `http://[64:ff9b::a9fe:a9fe]/`
 * to 169.254.169.254.
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] {
  const bytes = address.toByteArray();
  const v4 = (octets: number[]) => new ipaddr.IPv4(octets);
  const last = bytes.slice(12, 16);
  const range = address.range();
  if (range === 'rfc6052') {
    if (bytes[4] === 0 && bytes[5] === 0) {
      return [v4(last)];
    }
    // 64:ff9b:1::/48 may hold a prefix of any RFC 6052 length from /48 on;
    // the IPv4 then sits, skipping the reserved octet (byte 8), in:
    const at = (...indexes: number[]) => v4(indexes.map((i) => bytes[i] as number));
    return [at(6, 7, 9, 10), at(7, 9, 10, 11), at(9, 10, 11, 12), v4(last)];
  }
  if (range === 'rfc6145') {
    return [v4(last)];
  }
  if (range === '6to4') {
    return [v4(bytes.slice(2, 6))];
  }
  if (range === 'teredo') {
    return [v4(last.map((octet) => octet ^ 0xff))];
  }
  // IPv4-compatible (::a.b.c.d), but not :: or ::1.
  const compatible =
    bytes.slice(0, 12).every((octet) => octet === 0) &&
    last.some((octet, i) => (i < 3 ? octet !== 0 : octet > 1));
  return compatible ? [v4(last)] : [];
}

/** Why an address may never be reached, or undefined when it may. */
function forbiddenAddress(address: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  if (METADATA_ADDRESSES.some((meta) => sameAddress(meta, address))) {
    return 'is a cloud metadata address';
  }
  if (LINK_LOCAL.some((range) => inRange(address, range))) {
    return 'is a link-local address';
  }
  if (address.kind() === 'ipv6') {
    for (const carried of embeddedIPv4(address as ipaddr.IPv6)) {
      const reason = forbiddenAddress(carried);
      if (reason) {
        return `carries ${carried.toString()}, which ${reason}`;
      }
    }
  }
  return undefined;
}

/**
 * Parses one allow-list entry: an exact host (`hooks.example.com`), a
 * wildcard (`*.example.com`, any subdomain but not the apex), an IP address
 * (`10.0.0.5`, `::1`, `[::1]`) or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
 *
 * @returns the entry, or a message saying what is wrong with it.
 */
function parseEntry(raw: string): Entry | string {
  const text = normalizeHost(raw);
  if (text.includes('/')) {
    try {
      const [address, bits] = ipaddr.parseCIDR(text);
      return { kind: 'cidr', range: [address, bits] };
    } catch {
      return `"${raw}" is not a valid CIDR range`;
    }
  }
  const address = parseAddress(text);
  if (address) {
    return { kind: 'address', address: address };
  }
  if (text.startsWith('*.')) {
    const suffix = text.slice(2);
    return HOSTNAME.test(suffix) ? { kind: 'suffix', suffix } : `"${raw}" is not a valid wildcard`;
  }
  return HOSTNAME.test(text)
    ? { kind: 'exact', host: text }
    : `"${raw}" is not a host name, *.suffix, IP address or CIDR range`;
}

/** Problems with allow-list entries, one message per bad entry (for config validation). */
export function allowListProblems(entries: readonly string[]): string[] {
  return entries.map(parseEntry).filter((entry): entry is string => typeof entry === 'string');
}

/**
 * The hosts outbound HTTP may reach (health probes, notifications), per
 * `HEALTHCHECK_ALLOWED_HOSTS` / `NOTIFY_ALLOWED_HOSTS`. Link-local and cloud
 * metadata hosts are refused whatever the list says. An empty list means any
 * public host; configuration loading only permits that in development.
 *
 * Names are checked as written and, after DNS, every resolved address is
 * checked again (`checkResolvedAddress`) so a permitted name that resolves
 * to a metadata or link-local address is still refused.
 */
export class HostAllowList {
  private readonly entries: Entry[];

  /** @throws Error naming every bad entry. */
  constructor(entries: readonly string[]) {
    const parsed = entries.map(parseEntry);
    const problems = parsed.filter((entry): entry is string => typeof entry === 'string');
    if (problems.length > 0) {
      throw new Error(`invalid allow-list: ${problems.join('; ')}`);
    }
    this.entries = parsed as Entry[];
  }

  /** True when any public host is allowed (empty list). */
  get anyPublicHost(): boolean {
    return this.entries.length === 0;
  }

  /** Checks an http(s) URL's scheme and host, before any DNS lookup. */
  checkUrl(raw: string): HostCheck {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { allowed: false, reason: 'is not a valid URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { allowed: false, reason: 'must use http or https' };
    }
    return this.checkHost(url.hostname);
  }

  /** Checks a host name or IP literal as written (URL hostname form). */
  checkHost(rawHost: string): HostCheck {
    const host = normalizeHost(rawHost);
    if (host === '') {
      return { allowed: false, reason: 'has no host' };
    }
    const address = parseAddress(host);
    if (address) {
      return this.checkAddress(address, host);
    }
    if (METADATA_HOSTNAMES.has(host)) {
      return { allowed: false, reason: `host ${host} is a cloud metadata host` };
    }
    // What DNS cannot name is refused before "any public host" can let it
    // through: `metadata..` or `169.254.169.254..` slip past the checks above.
    if (!HOSTNAME.test(host)) {
      return { allowed: false, reason: `host ${host} is not a valid host name` };
    }
    if (this.anyPublicHost) {
      return { allowed: true };
    }
    const matched = this.entries.some(
      (entry) =>
        (entry.kind === 'exact' && entry.host === host) ||
        (entry.kind === 'suffix' && host.endsWith(`.${entry.suffix}`)),
    );
    return matched ? { allowed: true } : { allowed: false, reason: `host ${host} is not allowed` };
  }

  /**
   * Checks an address a permitted name resolved to. Only the always-refused
   * ranges apply (a permitted internal name may resolve to a private
   * address), plus "public only" when the list is empty.
   */
  checkResolvedAddress(rawAddress: string): HostCheck {
    const address = parseAddress(normalizeHost(rawAddress));
    if (!address) {
      return { allowed: false, reason: `resolved to an unreadable address ${rawAddress}` };
    }
    const forbidden = forbiddenAddress(address);
    if (forbidden) {
      return { allowed: false, reason: `resolves to ${rawAddress}, which ${forbidden}` };
    }
    if (this.anyPublicHost && address.range() !== 'unicast') {
      return { allowed: false, reason: `resolves to ${rawAddress}, which is not a public address` };
    }
    return { allowed: true };
  }

  private checkAddress(address: ipaddr.IPv4 | ipaddr.IPv6, shown: string): HostCheck {
    const forbidden = forbiddenAddress(address);
    if (forbidden) {
      return { allowed: false, reason: `host ${shown} ${forbidden}` };
    }
    if (this.anyPublicHost) {
      return address.range() === 'unicast'
        ? { allowed: true }
        : { allowed: false, reason: `host ${shown} is not a public address` };
    }
    const matched = this.entries.some(
      (entry) =>
        (entry.kind === 'address' && sameAddress(entry.address, address)) ||
        (entry.kind === 'cidr' && inRange(address, entry.range)),
    );
    return matched ? { allowed: true } : { allowed: false, reason: `host ${shown} is not allowed` };
  }
}
