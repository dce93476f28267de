import { describe, expect, it } from 'vitest';
import {
  checkHost,
  checkUrl,
  classifyAddress,
  isAllowListed,
  isPublicAddress,
  normalizeHost,
  parseIpLiteral,
  UrlGuardError,
  type ResolvedAddress,
  type ResolveHost,
} from '../../src/media/url-guard.js';

/** A fake DNS: a fixed table, and a record of every name asked. */
function fakeDns(table: Record<string, readonly ResolvedAddress[]>): ResolveHost & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<readonly ResolvedAddress[]> => {
    asked.push(hostname);
    const found = table[hostname];
    if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found;
  };
  return Object.assign(resolve, { asked });
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

async function refusal(promise: Promise<unknown>): Promise<UrlGuardError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof UrlGuardError)) throw new Error(`expected a UrlGuardError, got ${String(error)}`);
  return error;
}

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 4],
    ['1.1.1.1', 4],
    ['93.184.216.34', 4],
    ['2606:4700:4700::1111', 6],
    ['2a00:1450:4001:80b::200e', 6],
  ] as const)('%s is public', (address, family) => {
    const c = classifyAddress(address);
    expect(c).toMatchObject({ public: true, range: 'unicast', family });
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.1.1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::1', '6to4'],
    ['2001::1', 'teredo'],
  ] as const)('%s is refused (%s)', (address, range) => {
    const c = classifyAddress(address);
    expect(c.public).toBe(false);
    expect(c.range).toBe(range);
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192', '169.254.170.2', '::ffff:169.254.169.254'])(
    'cloud metadata address %s is refused',
    (address) => {
      expect(classifyAddress(address)).toMatchObject({ public: false, range: 'cloudMetadata' });
    },
  );

  it.each([
    ['::ffff:127.0.0.1', 'ipv4Mapped:loopback'],
    ['::ffff:7f00:1', 'ipv4Mapped:loopback'],
    ['::ffff:10.1.2.3', 'ipv4Mapped:private'],
    ['::ffff:192.168.0.1', 'ipv4Mapped:private'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'cloudMetadata'],
  ] as const)('IPv4-mapped IPv6 %s is classified by its IPv4 address (%s)', (address, range) => {
    expect(classifyAddress(address)).toMatchObject({ public: false, range, family: 6 });
  });

  it('an IPv4-mapped public address is public', () => {
    expect(classifyAddress('::ffff:8.8.8.8')).toMatchObject({ public: true, range: 'ipv4Mapped:unicast' });
  });

  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['3232235777', '192.168.1.1'],
    ['0xa9fea9fe', '169.254.169.254'],
  ])('decimal/hex/octal/short IPv4 literal %s is %s and refused', (literal, canonical) => {
    const c = classifyAddress(literal);
    expect(c.address).toBe(canonical);
    expect(c.public).toBe(false);
  });

  it('rejects a non-address', () => {
    expect(() => classifyAddress('example.com')).toThrow(TypeError);
    expect(isPublicAddress('example.com')).toBe(false);
    expect(parseIpLiteral('example.com')).toBeNull();
    expect(parseIpLiteral('[::1]')?.toString()).toBe('::1');
  });
});

describe('allow-list and host names', () => {
  it('matches exact host names case-insensitively, never by suffix', () => {
    expect(isAllowListed('Media.Example.COM', ['media.example.com'])).toBe(true);
    expect(isAllowListed('media.example.com', ['MEDIA.example.com '])).toBe(true);
    expect(isAllowListed('media.example.com.', ['media.example.com'])).toBe(true);
    expect(isAllowListed('evil-media.example.com', ['media.example.com'])).toBe(false);
    expect(isAllowListed('x.media.example.com', ['media.example.com'])).toBe(false);
    expect(isAllowListed('media.example.com', ['example.com'])).toBe(false);
    expect(isAllowListed('media.example.com', [])).toBe(false);
    expect(isAllowListed('media.example.com', undefined)).toBe(false);
  });

  it('normalises hosts', () => {
    expect(normalizeHost('[::1]')).toBe('::1');
    expect(normalizeHost(' Example.COM. ')).toBe('example.com');
  });
});

describe('checkUrl', () => {
  const dns = fakeDns({
    'public.example': [v4('93.184.216.34'), v6('2606:2800:220:1:248:1893:25c8:1946')],
    'private.example': [v4('10.0.0.5')],
    'mixed.example': [v4('93.184.216.34'), v4('127.0.0.1')],
    'mixed6.example': [v4('93.184.216.34'), v6('::1')],
    'mapped.example': [v6('::ffff:127.0.0.1')],
    'metadata.example': [v4('169.254.169.254')],
    'ula.example': [v6('fd00:ec2::254')],
    'empty.example': [],
    'internal.corp': [v4('10.1.2.3')],
    localhost: [v6('::1'), v4('127.0.0.1')],
  });

  it('passes an http(s) URL whose every address is public, and returns them all', async () => {
    const vetted = await checkUrl('https://public.example/a.png', { resolve: dns });
    expect(vetted.hostname).toBe('public.example');
    expect(vetted.allowListed).toBe(false);
    expect(vetted.addresses.map((a) => a.address)).toEqual(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
    const plain = await checkUrl(new URL('http://PUBLIC.example:8080/x'), { resolve: dns });
    expect(plain.hostname).toBe('public.example');
  });

  it('passes a public IP literal without DNS', async () => {
    const resolve = fakeDns({});
    const vetted = await checkUrl('http://8.8.8.8/x', { resolve });
    expect(vetted.addresses).toEqual([v4('8.8.8.8')]);
    expect(resolve.asked).toEqual([]);
    const six = await checkUrl('http://[2606:4700:4700::1111]/x', { resolve });
    expect(six.addresses).toEqual([v6('2606:4700:4700::1111')]);
  });

  it.each(['ftp://public.example/x', 'file:///etc/passwd', 'gopher://public.example/', 'data:text/plain,hi', 'javascript:alert(1)', 'ws://public.example/'])(
    'refuses scheme of %s',
    async (url) => {
      const error = await refusal(checkUrl(url, { resolve: dns }));
      expect(error.kind).toBe('forbidden');
    },
  );

  it('refuses a string that is not a URL', async () => {
    expect((await refusal(checkUrl('not a url', { resolve: dns }))).kind).toBe('forbidden');
  });

  it.each([
    'http://127.0.0.1/',
    'http://127.0.0.1:8080/admin',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://10.0.0.1/',
    'http://172.16.0.1/',
    'http://192.168.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://255.255.255.255/',
    'http://224.0.0.1/',
    'http://[::1]/',
    'http://[::]/',
    'http://[fe80::1]/',
    'http://[fc00::1]/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:10.0.0.1]/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://0x7f.0.0.1/',
    'http://0/',
    'http://2852039166/',
    'http://private.example/',
    'http://mixed.example/',
    'http://mixed6.example/',
    'http://mapped.example/',
    'http://metadata.example/',
    'http://ula.example/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.GOOGLE.INTERNAL./',
    'http://metadata/',
  ])('refuses %s', async (url) => {
    const error = await refusal(checkUrl(url, { resolve: dns }));
    expect(error.kind).toBe('forbidden');
  });

  it('uses real DNS by default: localhost resolves to loopback and is refused', async () => {
    const error = await refusal(checkUrl('http://localhost:1/'));
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(/loopback/);
  });

  it('checks every resolved address, not only the first', async () => {
    const error = await refusal(checkUrl('http://mixed.example/', { resolve: dns }));
    expect(error.message).toContain('127.0.0.1');
  });

  it('reports an unresolvable host as unresolvable, not forbidden', async () => {
    expect((await refusal(checkUrl('http://nowhere.example/', { resolve: dns }))).kind).toBe('unresolvable');
    expect((await refusal(checkUrl('http://empty.example/', { resolve: dns }))).kind).toBe('unresolvable');
  });

  it('an allow-listed host skips the address check (and still resolves)', async () => {
    const vetted = await checkUrl('http://Internal.Corp/file.pdf', { resolve: dns, allowedHosts: ['internal.corp'] });
    expect(vetted.allowListed).toBe(true);
    expect(vetted.addresses).toEqual([v4('10.1.2.3')]);
    const local = await checkUrl('http://127.0.0.1:9/', { allowedHosts: ['127.0.0.1'] });
    expect(local.addresses).toEqual([v4('127.0.0.1')]);
    const six = await checkUrl('http://[::1]:9/', { allowedHosts: ['::1'] });
    expect(six.addresses).toEqual([v6('::1')]);
  });

  it('the allow-list covers only the listed host', async () => {
    await expect(checkUrl('http://private.example/', { resolve: dns, allowedHosts: ['internal.corp'] })).rejects.toBeInstanceOf(UrlGuardError);
    await expect(checkUrl('http://127.0.0.2/', { allowedHosts: ['127.0.0.1'] })).rejects.toBeInstanceOf(UrlGuardError);
  });
});

describe('checkHost', () => {
  it('classifies bare hosts, numeric IPv4 forms included', async () => {
    for (const host of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '[::1]', '::ffff:127.0.0.1', '169.254.169.254']) {
      expect((await refusal(checkHost(host))).kind).toBe('forbidden');
    }
    await expect(checkHost('8.8.8.8')).resolves.toEqual({ addresses: [v4('8.8.8.8')], allowListed: false });
    expect((await refusal(checkHost(''))).kind).toBe('forbidden');
  });
});
