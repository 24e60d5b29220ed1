import { allowListProblems, HostAllowList } from './host-allow-list';

describe('HostAllowList', () => {
  const list = new HostAllowList([
    'hooks.example.com',
    '*.staging.internal',
    '10.0.0.0/8',
    '192.168.1.7',
    'fd00:1234::/32',
    '[::1]',
    '169.254.0.0/16',
  ]);

  it.each([
    ['http://hooks.example.com/x', 'an exact host'],
    ['https://HOOKS.example.com./x', 'an exact host in another case, with a trailing dot'],
    ['http://billing.staging.internal/health', 'a subdomain of a wildcard'],
    ['http://a.b.staging.internal/health', 'a deeper subdomain of a wildcard'],
    ['http://10.20.30.40:8080/', 'an IPv4 address inside a CIDR range'],
    ['http://192.168.1.7/', 'an exact IPv4 address'],
    ['http://[fd00:1234:5::1]/', 'an IPv6 address inside a CIDR range'],
    ['http://[::1]:3000/', 'an exact IPv6 address'],
    ['http://[::ffff:10.1.1.1]/', 'an IPv4-mapped IPv6 address inside an IPv4 range'],
  ])('allows %s (%s)', (url) => {
    expect(list.checkUrl(url)).toEqual({ allowed: true });
  });

  it.each([
    ['http://staging.internal/', 'host staging.internal is not allowed'],
    ['http://evilstaging.internal/', 'host evilstaging.internal is not allowed'],
    ['http://hooks.example.com.evil.net/', 'host hooks.example.com.evil.net is not allowed'],
    ['http://11.0.0.1/', 'host 11.0.0.1 is not allowed'],
    ['http://[fd00:1235::1]/', 'host fd00:1235::1 is not allowed'],
    ['http://169.254.169.254/latest/meta-data', 'host 169.254.169.254 is a cloud metadata address'],
    ['http://169.254.10.1/', 'host 169.254.10.1 is a link-local address'],
    ['http://[fe80::1]/', 'host fe80::1 is a link-local address'],
    ['http://[fd00:ec2::254]/', 'host fd00:ec2::254 is a cloud metadata address'],
    ['http://[::ffff:169.254.169.254]/', 'host ::ffff:a9fe:a9fe is a cloud metadata address'],
    ['http://0xA9FEA9FE/', 'host 169.254.169.254 is a cloud metadata address'],
    [
      'http://[64:ff9b::a9fe:a9fe]/',
      'host 64:ff9b::a9fe:a9fe carries 169.254.169.254, which is a cloud metadata address',
    ],
    [
      'http://[64:ff9b:1:a9fe:a9:fe00::]/',
      'host 64:ff9b:1:a9fe:a9:fe00:: carries 169.254.169.254, which is a cloud metadata address',
    ],
    [
      'http://[2002:a9fe:a9fe::1]/',
      'host 2002:a9fe:a9fe::1 carries 169.254.169.254, which is a cloud metadata address',
    ],
    [
      'http://[2001:0:4136:e378:8000:63bf:5601:5601]/',
      'host 2001:0:4136:e378:8000:63bf:5601:5601 carries 169.254.169.254, which is a cloud metadata address',
    ],
    ['http://[::a9fe:a01]/', 'host ::a9fe:a01 carries 169.254.10.1, which is a link-local address'],
    ['ftp://hooks.example.com/', 'must use http or https'],
    ['not a url', 'is not a valid URL'],
  ])('refuses %s', (url, reason) => {
    expect(list.checkUrl(url)).toEqual({ allowed: false, reason });
  });

  it('refuses an IPv6 address that carries a forbidden IPv4 even inside a listed range', () => {
    const everyIPv6 = new HostAllowList(['::/0']);
    expect(everyIPv6.checkUrl('http://[64:ff9b::a9fe:a9fe]/')).toEqual({
      allowed: false,
      reason: 'host 64:ff9b::a9fe:a9fe carries 169.254.169.254, which is a cloud metadata address',
    });
    expect(everyIPv6.checkUrl('http://[::ffff:0:a9fe:a9fe]/')).toMatchObject({ allowed: false });
    // 64:ff9b:1::/48 with a /56 and a /64 NAT64 prefix inside it.
    expect(everyIPv6.checkUrl('http://[64:ff9b:1:a9:fe:a9fe::]/')).toMatchObject({
      allowed: false,
    });
    expect(everyIPv6.checkUrl('http://[64:ff9b:1:0:a9:fea9:fe00:0]/')).toMatchObject({
      allowed: false,
    });
    // The same schemes towards an ordinary address stay allowed.
    expect(everyIPv6.checkUrl('http://[64:ff9b::c000:221]/')).toEqual({ allowed: true });
    expect(everyIPv6.checkUrl('http://[2002:c000:221::1]/')).toEqual({ allowed: true });
    expect(everyIPv6.checkUrl('http://[2001:db8::1]/')).toEqual({ allowed: true });
  });

  it('refuses metadata host names even when listed', () => {
    const generous = new HostAllowList(['metadata.google.internal', 'metadata', '*.internal']);
    expect(generous.checkHost('metadata.google.internal')).toEqual({
      allowed: false,
      reason: 'host metadata.google.internal is a cloud metadata host',
    });
    expect(generous.checkHost('METADATA.')).toEqual({
      allowed: false,
      reason: 'host metadata is a cloud metadata host',
    });
  });

  it('refuses resolved link-local and metadata addresses of a permitted name', () => {
    expect(list.checkResolvedAddress('10.1.2.3')).toEqual({ allowed: true });
    expect(list.checkResolvedAddress('169.254.169.254')).toEqual({
      allowed: false,
      reason: 'resolves to 169.254.169.254, which is a cloud metadata address',
    });
    expect(list.checkResolvedAddress('fe80::abcd').allowed).toBe(false);
    expect(list.checkResolvedAddress('::ffff:169.254.1.1').allowed).toBe(false);
  });

  describe('when the list is empty (development)', () => {
    const open = new HostAllowList([]);

    it('allows any public host', () => {
      expect(open.checkUrl('https://hooks.slack.com/services/T0/B0/x')).toEqual({ allowed: true });
      expect(open.checkUrl('http://93.184.216.34/')).toEqual({ allowed: true });
      expect(open.checkResolvedAddress('93.184.216.34')).toEqual({ allowed: true });
    });

    it('refuses what DNS cannot name, so extra trailing dots hide no metadata host', () => {
      expect(open.checkUrl('http://metadata../')).toEqual({
        allowed: false,
        reason: 'host metadata. is not a valid host name',
      });
      expect(open.checkUrl('http://169.254.169.254../').allowed).toBe(false);
      expect(open.checkUrl('http://hooks.example.com./x')).toEqual({ allowed: true });
    });

    it('refuses private, loopback and metadata addresses', () => {
      expect(open.checkUrl('http://127.0.0.1/').allowed).toBe(false);
      expect(open.checkUrl('http://10.0.0.1/').allowed).toBe(false);
      expect(open.checkUrl('http://169.254.169.254/').allowed).toBe(false);
      expect(open.checkUrl('http://metadata.google.internal/').allowed).toBe(false);
      expect(open.checkResolvedAddress('192.168.0.10')).toEqual({
        allowed: false,
        reason: 'resolves to 192.168.0.10, which is not a public address',
      });
    });
  });

  it('names every bad entry', () => {
    expect(allowListProblems(['ok.example.com', '10.0.0.0/99', '*.-bad', 'host:8080'])).toEqual([
      '"10.0.0.0/99" is not a valid CIDR range',
      '"*.-bad" is not a valid wildcard',
      '"host:8080" is not a host name, *.suffix, IP address or CIDR range',
    ]);
    expect(() => new HostAllowList(['bad host'])).toThrow('invalid allow-list');
  });
});
