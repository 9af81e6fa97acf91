/**
 * Where the gateway may send a caller's callback (SSRF guard). A callback URL is the caller's, but
 * the request leaves from inside the deployment: aimed at the instance metadata service
 * (169.254.169.254, fd00:ec2::254), the Lambda runtime API on 127.0.0.1, or a private network, it
 * would reach what the caller cannot. So:
 *
 * - HTTPS only; plain HTTP only to loopback, and only where the deployment allows it (embedded).
 * - No user:password@ in the URL (it would be logged, and sent as credentials).
 * - The host is resolved and every address it resolves to must be public: loopback, link-local,
 *   private (RFC 1918), shared (RFC 6598), unique-local, unspecified, multicast, broadcast, reserved
 *   and documentation ranges are refused, as are their IPv4-mapped, -compatible and NAT64 forms.
 * - The request then goes to the address that was checked (no second lookup a DNS rebinding could
 *   answer differently), and redirects are not followed.
 *
 * A deployment may allow listed CIDRs (an on-prem range over VPN) or host names. Refusals are
 * EgressRefusedError with the reason; the check itself sends no packet (a resolver is injected).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface EgressPolicy {
  /** CIDRs (`198.51.100.0/24`, `::1/128`) whose addresses pass although they are not public. */
  allowCidrs: readonly string[];
  /** Host names that pass whatever they resolve to (exact, case-insensitive). */
  allowHosts: readonly string[];
  /** Plain `http:` to a loopback address (the embedded deployment's receivers). */
  httpToLoopback: boolean;
}

/** The policy of a deployment in the cloud: HTTPS to public addresses, nothing else. */
export const STRICT_EGRESS: EgressPolicy = { allowCidrs: [], allowHosts: [], httpToLoopback: false };

/** Resolves a host name to all its addresses. */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

export const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export class EgressRefusedError extends Error {
  override readonly name = 'EgressRefusedError';
}

/** Where a checked URL goes: the URL as given, and the address to connect to. */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * Checks `raw` against the policy and resolves it; throws EgressRefusedError saying why not. The
 * answer's address is the one to connect to.
 */
export async function checkEgress(
  raw: string,
  policy: EgressPolicy,
  resolve: Resolver = systemResolver,
): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EgressRefusedError('it is not a URL');
  }
  if (url.username || url.password) {
    throw new EgressRefusedError(
      'it carries a user name or password (user:pass@): leave credentials out of the URL',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new EgressRefusedError(`its scheme is ${url.protocol.replace(':', '')}: use https`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(host);
  const addresses = literal
    ? [{ address: host, family: literal as 4 | 6 }]
    : await resolve(host).catch((err: unknown) => {
        throw new EgressRefusedError(`its host ${host} does not resolve (${(err as Error).message})`);
      });
  if (addresses.length === 0) throw new EgressRefusedError(`its host ${host} resolves to no address`);
  const hostAllowed = !literal && policy.allowHosts.some((h) => h.toLowerCase() === host.toLowerCase());
  for (const a of addresses) {
    const special =
      hostAllowed || allowedByCidr(a.address, policy.allowCidrs) ? undefined : specialRange(a.address);
    if (special) {
      throw new EgressRefusedError(
        `${literal ? 'it is aimed at' : `its host ${host} resolves to`} ${a.address}, ${special}: callbacks go to public addresses only`,
      );
    }
  }
  if (url.protocol === 'http:') {
    const loopback = addresses.every((a) => specialRange(a.address)?.startsWith('loopback'));
    if (!(policy.httpToLoopback && loopback)) {
      throw new EgressRefusedError('it is plain http: use https (the gateway sends callbacks over TLS only)');
    }
  }
  return { url, ...addresses[0]! };
}

/** The 16 bytes of an IPv6 address (`::`, embedded dotted quads), or undefined. */
function ipv6Bytes(text: string): number[] | undefined {
  let s = text.toLowerCase().replace(/%.*$/, '');
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad) {
    const v4 = ipv4Bytes(quad[1]!);
    if (!v4) return undefined;
    s =
      s.slice(0, -quad[1]!.length) +
      `${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string | undefined) => (h ? h.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const all = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tail];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function ipv4Bytes(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** Whether `bytes` starts with the first `bits` bits of `prefix`. */
function inPrefix(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const bit = (b: number[]) => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
    if (bit(bytes) !== bit(prefix)) return false;
  }
  return true;
}

const V4_RANGES: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'an unspecified address ("this network")'],
  ['10.0.0.0', 8, 'a private address (RFC 1918)'],
  ['100.64.0.0', 10, 'a shared address (RFC 6598, carrier-grade NAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (the instance metadata service is 169.254.169.254)'],
  ['172.16.0.0', 12, 'a private address (RFC 1918)'],
  ['192.0.0.0', 24, 'an IETF protocol assignment'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.168.0.0', 16, 'a private address (RFC 1918)'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved (and the broadcast address)'],
];
const V6_RANGES: Array<[string, number, string]> = [
  ['::', 128, 'the unspecified address'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'a unique-local address (the instance metadata service is fd00:ec2::254)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
  ['2001:db8::', 32, 'a documentation address'],
  ['100::', 64, 'a discard-only address'],
];

/**
 * IPv6 forms that carry an IPv4 address in their last 4 bytes and reach it: IPv4-mapped
 * (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and the old IPv4-compatible (::a.b.c.d, but :: and
 * ::1 themselves).
 */
function carriesIpv4(v6: number[]): boolean {
  if (inPrefix(v6, ipv6Bytes('::ffff:0:0')!, 96) || inPrefix(v6, ipv6Bytes('64:ff9b::')!, 96)) return true;
  const last = v6.slice(12);
  return inPrefix(v6, ipv6Bytes('::')!, 96) && last.some((b, i) => (i === 3 ? b > 1 : b !== 0));
}

/** Why `address` is not a public one (undefined: it is); IPv4 forms inside IPv6 count as IPv4. */
export function specialRange(address: string): string | undefined {
  const v4 = ipv4Bytes(address);
  if (v4) return V4_RANGES.find(([p, bits]) => inPrefix(v4, ipv4Bytes(p)!, bits))?.[2];
  const v6 = ipv6Bytes(address);
  if (!v6) return 'not an IP address';
  if (carriesIpv4(v6)) {
    const inner = v6.slice(12).join('.');
    const why = specialRange(inner);
    return why ? `${why}, as ${inner} inside an IPv6 address` : undefined;
  }
  return V6_RANGES.find(([p, bits]) => inPrefix(v6, ipv6Bytes(p)!, bits))?.[2];
}

/** `198.51.100.0/24`, `fd12::/48`, or one address (all its bits): its bytes and prefix length. */
function parseCidr(text: string): { prefix: number[]; bits: number } | undefined {
  const [net, bitsText, extra] = text.split('/');
  const prefix = net ? (ipv4Bytes(net) ?? ipv6Bytes(net)) : undefined;
  if (!prefix || extra !== undefined) return undefined;
  const max = prefix.length * 8;
  if (bitsText === undefined) return { prefix, bits: max };
  const bits = Number(bitsText);
  return /^\d+$/.test(bitsText) && bits <= max ? { prefix, bits } : undefined;
}

/** Whether one of `cidrs` holds `address` (a CIDR that does not parse holds nothing). */
function allowedByCidr(address: string, cidrs: readonly string[]): boolean {
  const bytes = ipv4Bytes(address) ?? ipv6Bytes(address);
  if (!bytes) return false;
  return cidrs.some((c) => {
    const cidr = parseCidr(c);
    return !!cidr && cidr.prefix.length === bytes.length && inPrefix(bytes, cidr.prefix, cidr.bits);
  });
}

/** Checks the policy's CIDRs once, at configuration: a wrong one is an error, not a silent no-op. */
export function assertCidrs(cidrs: readonly string[], where: string): void {
  const wrong = cidrs.find((c) => !parseCidr(c));
  if (wrong !== undefined) {
    throw new Error(`burstgate: ${where}: "${wrong}" is not a CIDR (198.51.100.0/24, fd12::/48)`);
  }
}

/**
 * A URL safe to print or show: no query string (a presigned URL's is a credential, a callback's may
 * carry the receiver's token), no user info. The gateway's logs and views and the client's messages.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return url.replace(/\?.*$/, '');
  }
}
