import type { LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/**
 * SSRF guard shared by media fetches (`MEDIA_ALLOWED_HOSTS`) and webhook targets
 * (`WEBHOOK_ALLOWED_HOSTS`). A URL passes when its scheme is http/https and EVERY address its host
 * resolves to is public unicast — or when its host is listed in the allow-list (exact host name,
 * case-insensitive), which skips the address check.
 *
 * Address classification is ipaddr.js's (`range()`); only its `unicast` range is public. IPv4-mapped
 * IPv6 addresses are classified by the IPv4 address they carry. Numeric IPv4 forms (decimal, hex,
 * octal, short: `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) are normalised by the WHATWG URL
 * parser, and by ipaddr.js for bare hosts.
 */

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to every address it has (the guard checks each one). */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface UrlGuardOptions {
  /** Host names exempt from the address check (exact, case-insensitive). */
  readonly allowedHosts?: readonly string[] | undefined;
  /** DNS resolution; defaults to `dns.lookup(host, { all: true })` (what a connection would use). */
  readonly resolve?: ResolveHost | undefined;
}

export interface AddressClassification {
  /** The address in canonical form (IPv4-mapped IPv6 kept as written, canonicalised). */
  readonly address: string;
  readonly family: 4 | 6;
  /** ipaddr.js range name (`unicast`, `private`, `loopback`, …), `cloudMetadata`, or `ipv4Mapped:<range>`. */
  readonly range: string;
  readonly public: boolean;
}

export interface VettedUrl {
  readonly url: URL;
  /** Host name without IPv6 brackets, lower case. */
  readonly hostname: string;
  /** The addresses a connection may use: all checked (unless allow-listed). Never empty. */
  readonly addresses: readonly ResolvedAddress[];
  readonly allowListed: boolean;
}

export type UrlGuardFailure = 'forbidden' | 'unresolvable';

/** `forbidden`: refused by policy. `unresolvable`: the URL is acceptable but its host has no address. */
export class UrlGuardError extends Error {
  constructor(
    readonly kind: UrlGuardFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UrlGuardError';
  }
}

/** Cloud metadata endpoints, refused by name even before resolution. */
const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.platformequinix.com',
]);

/** Cloud metadata addresses (AWS/GCP/Azure/OpenStack, AWS IPv6, ECS, Alibaba, Oracle). */
const METADATA_ADDRESSES: ReadonlySet<string> = new Set(
  ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192', '169.254.169.123'].map((a) =>
    ipaddr.parse(a).toNormalizedString(),
  ),
);

/** Deprecated IPv4-compatible IPv6 (`::a.b.c.d`): carries an IPv4 address that ipaddr.js calls unicast. */
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

const ALLOWED_PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:']);

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Lower case, no IPv6 brackets, no single trailing dot (`example.com.` is `example.com`). */
export function normalizeHost(host: string): string {
  const h = stripBrackets(host.trim()).toLowerCase();
  return h.endsWith('.') && h.length > 1 ? h.slice(0, -1) : h;
}

/** Parses an IP literal in any form ipaddr.js knows (incl. decimal/hex/octal/short IPv4); null for a name. */
export function parseIpLiteral(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const h = stripBrackets(host.trim());
  if (ipaddr.IPv6.isValid(h)) return ipaddr.IPv6.parse(h);
  if (ipaddr.IPv4.isValid(h)) return ipaddr.IPv4.parse(h);
  return null;
}

function rangeOf(addr: ipaddr.IPv4 | ipaddr.IPv6): string {
  if (addr instanceof ipaddr.IPv6) {
    if (addr.isIPv4MappedAddress()) return `ipv4Mapped:${rangeOf(addr.toIPv4Address())}`;
    if (addr.match(IPV4_COMPATIBLE)) return addr.range() === 'unicast' ? 'ipv4Compatible' : addr.range();
    return addr.range();
  }
  return addr.range();
}

function isMetadata(addr: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (METADATA_ADDRESSES.has(addr.toNormalizedString())) return true;
  return addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress() && METADATA_ADDRESSES.has(addr.toIPv4Address().toNormalizedString());
}

/** Classifies one IP address; throws a `TypeError` if `address` is not an IP literal. */
export function classifyAddress(address: string): AddressClassification {
  const addr = parseIpLiteral(address);
  if (addr === null) throw new TypeError(`'${address}' is not an IP address`);
  const family = addr.kind() === 'ipv4' ? 4 : 6;
  const canonical = addr.toString();
  if (isMetadata(addr)) return { address: canonical, family, range: 'cloudMetadata', public: false };
  const range = rangeOf(addr);
  return { address: canonical, family, range, public: range === 'unicast' || range === 'ipv4Mapped:unicast' };
}

/** True when `address` is a public unicast address (false for anything that is not an IP literal). */
export function isPublicAddress(address: string): boolean {
  return parseIpLiteral(address) !== null && classifyAddress(address).public;
}

export function isAllowListed(host: string, allowedHosts: readonly string[] | undefined): boolean {
  if (!allowedHosts || allowedHosts.length === 0) return false;
  const h = normalizeHost(host);
  return allowedHosts.some((entry) => normalizeHost(entry) === h);
}

const defaultResolve: ResolveHost = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
};

/**
 * Checks a host (name or IP literal) and returns the addresses a connection may use.
 * Throws {@link UrlGuardError}.
 */
export async function checkHost(host: string, options: UrlGuardOptions = {}): Promise<{ addresses: ResolvedAddress[]; allowListed: boolean }> {
  const hostname = normalizeHost(host);
  if (hostname === '') throw new UrlGuardError('forbidden', 'URL has no host');
  const allowListed = isAllowListed(hostname, options.allowedHosts);

  const literal = parseIpLiteral(hostname);
  let addresses: ResolvedAddress[];
  if (literal !== null) {
    addresses = [{ address: literal.toString(), family: literal.kind() === 'ipv4' ? 4 : 6 }];
  } else {
    if (!allowListed && METADATA_HOSTNAMES.has(hostname)) {
      throw new UrlGuardError('forbidden', `host '${hostname}' is a cloud metadata endpoint`);
    }
    const resolve = options.resolve ?? defaultResolve;
    try {
      addresses = [...(await resolve(hostname))];
    } catch (error) {
      throw new UrlGuardError('unresolvable', `host '${hostname}' could not be resolved`, { cause: error });
    }
    if (addresses.length === 0) throw new UrlGuardError('unresolvable', `host '${hostname}' has no address`);
  }

  if (!allowListed) {
    for (const { address } of addresses) {
      const c = parseIpLiteral(address) === null ? null : classifyAddress(address);
      if (c === null) throw new UrlGuardError('forbidden', `host '${hostname}' resolved to an invalid address '${address}'`);
      if (!c.public) {
        throw new UrlGuardError('forbidden', `host '${hostname}' resolves to a non-public address (${c.address}: ${c.range})`);
      }
    }
  }
  return { addresses, allowListed };
}

/** Checks a URL: http/https only, then {@link checkHost}. Throws {@link UrlGuardError}. */
export async function checkUrl(input: string | URL, options: UrlGuardOptions = {}): Promise<VettedUrl> {
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new UrlGuardError('forbidden', 'not a valid URL', { cause: error });
  }
  if (!ALLOWED_PROTOCOLS.has(url.protocol)) {
    throw new UrlGuardError('forbidden', `scheme '${url.protocol.replace(/:$/, '')}' is not allowed (http and https only)`);
  }
  const { addresses, allowListed } = await checkHost(url.hostname, options);
  return { url, hostname: normalizeHost(url.hostname), addresses, allowListed };
}

/** A `lookup` that answers only with the vetted addresses: the connection cannot go elsewhere. */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    const first = usable[0];
    if (first === undefined) {
      callback(new UrlGuardError('unresolvable', `host '${hostname}' has no vetted IPv${family} address`), '', 0);
      return;
    }
    if (options.all === true) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, first.address, first.family);
  };
}
