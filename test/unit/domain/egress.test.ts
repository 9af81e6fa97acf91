/**
 * The callback egress guard: which addresses and URLs the gateway refuses to send to, with an
 * injected resolver, so no test here sends a packet or a DNS query.
 */
import { describe, expect, it } from 'vitest';
import {
  EgressRefusedError,
  STRICT_EGRESS,
  assertCidrs,
  checkEgress,
  specialRange,
  type EgressPolicy,
  type Resolver,
} from '../../../shared/domain/egress';

const resolverOf =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const found = table[host];
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
const NO_DNS: Resolver = async (host) => {
  throw new Error(`no lookup expected, asked for ${host}`);
};

async function refusal(url: string, policy: EgressPolicy = STRICT_EGRESS, resolve: Resolver = NO_DNS) {
  const err = await checkEgress(url, policy, resolve).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${url} was let through`).toBeInstanceOf(EgressRefusedError);
  return (err as Error).message;
}

describe('specialRange', () => {
  it.each([
    ['169.254.169.254', 'link-local'],
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'RFC 1918'],
    ['172.31.255.255', 'RFC 1918'],
    ['192.168.0.10', 'RFC 1918'],
    ['100.64.0.1', 'RFC 6598'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.251', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00:ec2::254', 'unique-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['64:ff9b::169.254.169.254', 'link-local'],
    ['::127.0.0.1', 'loopback'],
  ])('refuses %s (%s)', (address, why) => {
    // Act / Assess
    expect(specialRange(address)).toContain(why);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1'])(
    'lets the public address %s through',
    (address) => {
      // Act / Assess
      expect(specialRange(address)).toBeUndefined();
    },
  );
});

describe('checkEgress', () => {
  it.each([
    ['https://169.254.169.254/latest/meta-data/', 'aimed at 169.254.169.254, link-local'],
    ['https://127.0.0.1:9001/2018-06-01/runtime/invocation/next', 'aimed at 127.0.0.1, loopback'],
    ['https://[::1]/hook', 'aimed at ::1, loopback'],
    ['https://[fd00:ec2::254]/', 'unique-local'],
    ['https://[::ffff:169.254.169.254]/', 'link-local'],
    ['https://100.64.0.5/hook', 'RFC 6598'],
    ['https://user:secret@8.8.8.8/hook', 'user name or password'],
    ['http://8.8.8.8/hook', 'plain http'],
    ['ftp://8.8.8.8/hook', 'scheme is ftp'],
    ['not a url', 'not a URL'],
  ])('refuses %s without a lookup', async (url, why) => {
    // Act / Assess
    expect(await refusal(url)).toContain(why);
  });

  it('refuses a name that resolves to a private address, or to any one among public ones', async () => {
    // Prepare
    const dns = resolverOf({
      'hooks.corp.example': ['100.64.1.5'],
      'mixed.example': ['8.8.8.8', '169.254.1.1'],
      'meta.example': ['::ffff:169.254.169.254'],
    });
    // Act / Assess
    expect(await refusal('https://hooks.corp.example/h', STRICT_EGRESS, dns)).toContain(
      'its host hooks.corp.example resolves to 100.64.1.5, a shared address (RFC 6598',
    );
    expect(await refusal('https://mixed.example/h', STRICT_EGRESS, dns)).toContain('169.254.1.1');
    expect(await refusal('https://meta.example/h', STRICT_EGRESS, dns)).toContain('link-local');
    expect(await refusal('https://nowhere.example/h', STRICT_EGRESS, dns)).toContain('does not resolve');
  });

  it('lets a public HTTPS host through, with the address to connect to', async () => {
    // Act
    const target = await checkEgress(
      'https://hooks.example/burst?token=x',
      STRICT_EGRESS,
      resolverOf({ 'hooks.example': ['2606:4700::1', '8.8.4.4'] }),
    );
    // Assess
    expect([target.url.hostname, target.address, target.family]).toEqual([
      'hooks.example',
      '2606:4700::1',
      6,
    ]);
  });

  it('lets through what the deployment allows: listed CIDRs and hosts, and plain HTTP to loopback only where allowed', async () => {
    // Prepare
    const vpn: EgressPolicy = {
      allowCidrs: ['198.51.100.0/24'],
      allowHosts: ['ci.corp.example'],
      httpToLoopback: false,
    };
    const embedded: EgressPolicy = {
      allowCidrs: ['127.0.0.0/8', '::1/128'],
      allowHosts: [],
      httpToLoopback: true,
    };
    const dns = resolverOf({ 'ci.corp.example': ['203.0.113.7'] });
    // Act
    const inVpn = await checkEgress('https://198.51.100.4/hook', vpn, NO_DNS);
    const listed = await checkEgress('https://ci.corp.example/hook', vpn, dns);
    const local = await checkEgress('http://127.0.0.1:8080/hook', embedded, NO_DNS);
    // Assess
    expect([inVpn.address, listed.address, local.address]).toEqual([
      '198.51.100.4',
      '203.0.113.7',
      '127.0.0.1',
    ]);
    expect(await refusal('https://203.0.113.9/hook', vpn)).toContain('a documentation address');
    expect(await refusal('http://198.51.100.4/hook', vpn)).toContain('plain http');
    expect(await refusal('http://127.0.0.1:8080/hook', vpn)).toContain('loopback');
    expect(await refusal('https://169.254.169.254/', embedded)).toContain('link-local');
  });
});

describe('assertCidrs', () => {
  it('accepts CIDRs and single addresses, and names a wrong one', () => {
    // Act / Assess
    expect(() => assertCidrs(['198.51.100.0/24', 'fd12::/48', '127.0.0.1'], 'X')).not.toThrow();
    expect(() => assertCidrs(['198.51.100.0/33'], 'X')).toThrow('X: "198.51.100.0/33" is not a CIDR');
    expect(() => assertCidrs(['corp/16'], 'X')).toThrow('"corp/16" is not a CIDR');
  });
});
