/**
 * fast-check arbitraries for hostile input: addresses and host names no
 * outbound request may reach (cloud metadata, link-local), written in every
 * notation a URL parser or a network gateway accepts, and URLs built around
 * them with userinfo tricks. Shared by the property tests of the host
 * allow-list and of the Validator.
 */
import fc from 'fast-check';

type Octets = [number, number, number, number];

const byte = fc.integer({ min: 0, max: 255 });

/** 169.254.169.254 (the metadata address of AWS, GCP, Azure, …) or any other 169.254/16 address. */
export const forbiddenIPv4: fc.Arbitrary<Octets> = fc.oneof(
  fc.constant<Octets>([169, 254, 169, 254]),
  fc.tuple(byte, byte).map(([c, d]): Octets => [169, 254, c, d]),
);

/** One IPv4 number part as the WHATWG host parser reads it: decimal, octal (leading 0) or hex. */
function numberPart(value: number, style: number, zeros: number): string {
  switch (style % 4) {
    case 0:
      return String(value);
    case 1:
      return `0${'0'.repeat(zeros)}${value.toString(8)}`;
    case 2:
      return `0x${'0'.repeat(zeros)}${value.toString(16)}`;
    default:
      return `0X${'0'.repeat(zeros)}${value.toString(16).toUpperCase()}`;
  }
}

/**
 * An IPv4 address in 1 to 4 parts (`a.b.c.d`, `a.b.cd`, `a.bcd`, `abcd`, the
 * last part filling the remaining bytes), each part in its own radix, with an
 * optional trailing dot: every form `new URL()` turns back into `a.b.c.d`.
 */
export function ipv4Notation(octets: Octets): fc.Arbitrary<string> {
  return fc
    .record({
      parts: fc.integer({ min: 1, max: 4 }),
      styles: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
      zeros: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
      trailingDot: fc.boolean(),
    })
    .map(({ parts, styles, zeros, trailingDot }) => {
      const out: string[] = [];
      for (let i = 0; i < parts - 1; i++) {
        out.push(numberPart(octets[i] as number, styles[i] as number, zeros[i] as number));
      }
      const rest = octets.slice(parts - 1).reduce((sum, octet) => sum * 256 + octet, 0);
      out.push(numberPart(rest, styles[parts - 1] as number, zeros[parts - 1] as number));
      return `${out.join('.')}${trailingDot ? '.' : ''}`;
    });
}

/** Groups joined with the longest run of zero groups written "::" (a single one too: parsers accept it). */
function compressed(groups: readonly string[], zero: string): string {
  let best: [number, number] = [-1, 0];
  for (let start = 0; start < groups.length; start++) {
    let end = start;
    while (end < groups.length && groups[end] === zero) {
      end++;
    }
    if (end - start > best[1]) {
      best = [start, end - start];
    }
  }
  if (best[0] < 0) {
    return groups.join(':');
  }
  return `${groups.slice(0, best[0]).join(':')}::${groups.slice(best[0] + best[1]).join(':')}`;
}

/** Eight 16-bit groups written as an IPv6 literal, in one of the spellings parsers accept. */
function ipv6Text(
  bytes: readonly number[],
  style: { compress: boolean; upper: boolean; pad: boolean; dottedTail: boolean },
): string {
  const groups: string[] = [];
  const groupCount = style.dottedTail ? 6 : 8;
  for (let i = 0; i < groupCount; i++) {
    const value = ((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number);
    const hex = value.toString(16);
    groups.push(style.pad ? hex.padStart(4, '0') : hex);
  }
  let text = style.compress ? compressed(groups, style.pad ? '0000' : '0') : groups.join(':');
  if (style.dottedTail) {
    text += `${text.endsWith(':') ? '' : ':'}${bytes.slice(12, 16).join('.')}`;
  }
  return style.upper ? text.toUpperCase() : text;
}

const ipv6Style = fc.record({
  compress: fc.boolean(),
  upper: fc.boolean(),
  pad: fc.boolean(),
  dottedTail: fc.boolean(),
});

const randomBytes = (length: number) => fc.array(byte, { minLength: length, maxLength: length });

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/**
 * Ways an IPv6 address carries an IPv4 one (`s`: ten random bytes for the
 * parts the scheme leaves free): IPv4-mapped, SIIT, NAT64 (64:ff9b::/96,
 * and 64:ff9b:1::/48 with a /48, /56, /64 or /96 prefix, byte 8 being the
 * reserved "u" octet), 6to4, Teredo (client address inverted), IPv4-compatible.
 */
const NAT64_LOCAL = [0, 0x64, 0xff, 0x9b, 0, 1];
const CARRIERS: Array<(v4: Octets, s: number[]) => number[]> = [
  (v4) => [...zeros(10), 0xff, 0xff, ...v4],
  (v4) => [...zeros(8), 0xff, 0xff, 0, 0, ...v4],
  (v4) => [0, 0x64, 0xff, 0x9b, ...zeros(8), ...v4],
  (v4, s) => [...NAT64_LOCAL, v4[0], v4[1], 0, v4[2], v4[3], ...s.slice(0, 5)],
  (v4, s) => [...NAT64_LOCAL, ...s.slice(0, 1), v4[0], 0, v4[1], v4[2], v4[3], ...s.slice(1, 5)],
  (v4, s) => [...NAT64_LOCAL, ...s.slice(0, 2), 0, ...v4, ...s.slice(2, 5)],
  (v4, s) => [...NAT64_LOCAL, ...s.slice(0, 2), 0, ...s.slice(2, 5), ...v4],
  (v4, s) => [0x20, 0x02, ...v4, ...s],
  (v4, s) => [0x20, 0x01, 0, 0, ...s.slice(0, 8), ...v4.map((octet) => octet ^ 0xff)],
  (v4) => [...zeros(12), ...v4],
];

/** The 16 bytes of an IPv6 address that carries `v4` by a translation or tunnelling scheme. */
export function ipv6Carrying(v4: Octets): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.constantFrom(...CARRIERS), randomBytes(10))
    .map(([carrier, s]) => carrier(v4, s));
}

/** IPv6 addresses forbidden on their own: link-local fe80::/10 and AWS's fd00:ec2::254. */
const forbiddenNativeIPv6: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 0x80, max: 0xbf }), randomBytes(14)).map(([b, s]) => [0xfe, b, ...s]),
  fc.constant<number[]>([0xfd, 0, 0x0e, 0xc2, ...zeros(10), 0x02, 0x54]),
);

/** A forbidden IPv6 address (native or carrying a forbidden IPv4), as a literal without brackets. */
export const forbiddenIPv6Literal: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      forbiddenNativeIPv6,
      forbiddenIPv4.chain((v4) => ipv6Carrying(v4)),
    ),
    ipv6Style,
  )
  .map(([bytes, style]) => ipv6Text(bytes, style));

const METADATA_NAMES = ['metadata', 'metadata.google.internal'];

/** Fullwidth forms of ASCII letters and digits, and ideographic dots: IDNA maps them back. */
function fullwidth(text: string, dot: string): string {
  return [...text]
    .map((char) => {
      if (char === '.') {
        return dot;
      }
      return /[a-z0-9]/i.test(char) ? String.fromCharCode(char.charCodeAt(0) + 0xfee0) : char;
    })
    .join('');
}

/**
 * A host as written in a URL, in a disguise the URL parser undoes: random
 * case, fullwidth letters and ideographic dots, percent-encoding, a tab or
 * newline inside (removed by the parser).
 */
function disguised(host: string): fc.Arbitrary<string> {
  const mask = fc.array(fc.boolean(), { minLength: 32, maxLength: 32 });
  return fc.oneof(
    fc.constant(host),
    mask.map((bits) => [...host].map((c, i) => (bits[i % 32] ? c.toUpperCase() : c)).join('')),
    fc.constantFrom('.', '\u3002', '\uff0e', '\uff61').map((dot) => fullwidth(host, dot)),
    mask.map((bits) =>
      [...host]
        .map((c, i) => (bits[i % 32] ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c))
        .join(''),
    ),
    fc
      .tuple(fc.nat(host.length), fc.constantFrom('\t', '\n', '\r'))
      .map(([at, blank]) => `${host.slice(0, at)}${blank}${host.slice(at)}`),
  );
}

/** Cloud metadata host names with zero to two trailing dots. */
const metadataName: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...METADATA_NAMES), fc.nat(2))
  .map(([name, dots]) => `${name}${'.'.repeat(dots)}`);

/** A forbidden host as it may appear between `//` (and userinfo) and the port of a URL. */
export const forbiddenUrlHost: fc.Arbitrary<string> = fc.oneof(
  forbiddenIPv4.chain(ipv4Notation).chain(disguised),
  metadataName.chain(disguised),
  forbiddenIPv6Literal.map((literal) => `[${literal}]`),
);

/**
 * A http(s) URL whose real host is forbidden, with `decoy` (an allowed host)
 * placed where a careless check would read it: in the userinfo, after `#@`,
 * `?@` or a backslash.
 */
export function hostileUrl(decoy: string): fc.Arbitrary<string> {
  return fc
    .record({
      scheme: fc.constantFrom('http', 'https', 'HTTP', 'hTtPs'),
      userinfo: fc.constantFrom('', `${decoy}@`, `user:pass@`, `${decoy}:443@`, `${decoy}%2f@`),
      host: forbiddenUrlHost,
      port: fc.constantFrom('', ':80', ':8080', ':443'),
      tail: fc.constantFrom(
        '',
        '/',
        '/latest/meta-data/',
        `#@${decoy}`,
        `?@${decoy}`,
        `\\@${decoy}/`,
        `/\\${decoy}`,
      ),
      blank: fc.constantFrom('', ' ', '\t', '\u0000'),
    })
    .map(
      ({ scheme, userinfo, host, port, tail, blank }) =>
        // Leading and trailing C0 controls and spaces are stripped by the parser.
        `${blank}${scheme}://${userinfo}${host}${port}${tail}${blank}`,
    );
}

/** A forbidden address as DNS hands it back: dotted IPv4, or an IPv6 literal in any spelling. */
export const forbiddenResolvedAddress: fc.Arbitrary<string> = fc.oneof(
  forbiddenIPv4.map((octets) => octets.join('.')),
  forbiddenIPv6Literal,
);

/** Look-alike letters (Cyrillic and Greek) for Latin ones: an IDN homograph swaps them in. */
const HOMOGLYPHS: Record<string, string[]> = {
  a: ['\u0430', '\u03b1'],
  c: ['\u0441'],
  e: ['\u0435'],
  i: ['\u0456', '\u03b9'],
  o: ['\u043e', '\u03bf'],
  p: ['\u0440', '\u03c1'],
  s: ['\u0455'],
  x: ['\u0445', '\u03c7'],
  y: ['\u0443'],
};

/** `name` with at least one letter swapped for a look-alike from another script. */
export function homographOf(name: string): fc.Arbitrary<string> {
  const swappable = [...name].flatMap((char, i) => (HOMOGLYPHS[char] ? [i] : []));
  if (swappable.length === 0) {
    throw new Error(`${name} has no letter with a look-alike`);
  }
  return fc.tuple(fc.subarray(swappable, { minLength: 1 }), fc.nat()).map(([positions, pick]) =>
    [...name]
      .map((char, i) => {
        const glyphs = HOMOGLYPHS[char];
        return positions.includes(i) && glyphs ? (glyphs[pick % glyphs.length] as string) : char;
      })
      .join(''),
  );
}

/**
 * Allow-list entries an operator might write that cover forbidden addresses
 * or names; the always-refused rules must win over every one of them.
 */
export const GENEROUS_ENTRIES = [
  '0.0.0.0/0',
  '::/0',
  '169.254.0.0/16',
  '169.254.169.254',
  'fe80::/10',
  'fd00:ec2::254',
  '64:ff9b::/96',
  '64:ff9b:1::/48',
  '2002::/16',
  '2001::/32',
  '::ffff:0:0/96',
  '*.internal',
  '*.google.internal',
  'metadata.google.internal',
  'metadata',
  'hooks.example.com',
];

/** Any subset of the generous entries, the empty list (any public host) included. */
export const generousAllowList: fc.Arbitrary<string[]> = fc.subarray(GENEROUS_ENTRIES);
