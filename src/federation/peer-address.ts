// Classifies the addresses a peer URL leads to: public, or one of the non-public ranges (loopback, private,
// link-local, shared/CGNAT, unspecified, unique-local, reserved) a platform must not be talked into calling.
// Pure: no DNS here; the peer client resolves names and asks at connect time.
import { isIPv4, isIPv6 } from 'node:net';

export type AddressClass =
  'public' | 'loopback' | 'private' | 'link_local' | 'shared' | 'unspecified' | 'unique_local' | 'reserved';

/** Whether a peer on a non-public address may be called: always, never, or as this platform's own URL says. */
export type PrivatePeerAddresses = 'auto' | 'allow' | 'deny';

const V4_RANGES: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link_local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'reserved'],
  ['240.0.0.0', 4, 'reserved'],
];

/** A dotted-quad IPv4 address as a 32-bit number, or null. */
function v4ToNumber(ip: string): number | null {
  if (!isIPv4(ip)) return null;
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function classifyV4(n: number): AddressClass {
  for (const [start, bits, kind] of V4_RANGES) {
    const size = 2 ** (32 - bits);
    const base = v4ToNumber(start)!;
    if (n >= base && n < base + size) return kind;
  }
  return 'public';
}

/** An IPv6 address as eight 16-bit groups (an embedded dotted IPv4 tail expanded), or null. */
function v6Groups(ip: string): number[] | null {
  const address = ip.split('%')[0]!;
  if (!isIPv6(address)) return null;
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const n = v4ToNumber(dotted[1]!);
    if (n === null) return null;
    text = `${text.slice(0, dotted.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const left = parse(head);
  const right = parse(tail);
  const fill = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  const groups = [...left, ...fill, ...right];
  return groups.length === 8 ? groups : null;
}

function classifyV6(g: number[]): AddressClass {
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  const embeddedV4 = (): number => g[6]! * 65536 + g[7]!;
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (the old compatible form) reach the IPv4 address they carry.
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return classifyV4(embeddedV4());
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) also lead to the IPv4 address inside them.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyV4(embeddedV4());
  if (g[0] === 0x2002) return classifyV4(g[1]! * 65536 + g[2]!);
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'unique_local';
  if ((first & 0xffc0) === 0xfe80) return 'link_local';
  if ((first & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((first & 0xff00) === 0xff00) return 'reserved'; // multicast
  return 'public';
}

/** The class of an IP address (IPv4 dotted quad, or IPv6 with or without brackets); null when not an IP. */
export function classifyAddress(ip: string): AddressClass | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const v4 = v4ToNumber(bare);
  if (v4 !== null) return classifyV4(v4);
  const v6 = v6Groups(bare);
  return v6 === null ? null : classifyV6(v6);
}

/**
 * The class of a URL's host without resolving it: an IP literal in any form a URL accepts (decimal
 * `2130706433`, hex `0x7f.1`, octal `0177.0.0.1`, IPv6 and IPv4-mapped IPv6), or `localhost` and its
 * subdomains as loopback; null for any other DNS name (resolve it to know).
 */
export function classifyUrlHost(url: string | URL): AddressClass | null {
  const hostname = (typeof url === 'string' ? new URL(url) : url).hostname.toLowerCase();
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return 'loopback';
  return classifyAddress(hostname);
}

/**
 * Whether this platform may call peers on non-public addresses. `auto`: when its own URL (the public URL,
 * else the listener's) is itself not public, i.e. the platform lives on a private network or on this
 * machine (tests, local children); a platform reachable at a public address or DNS name refuses them.
 */
export function privateAddressesAllowed(mode: PrivatePeerAddresses, selfUrl: string | undefined): boolean {
  if (mode !== 'auto') return mode === 'allow';
  if (selfUrl === undefined) return false;
  const kind = classifyUrlHost(selfUrl);
  return kind !== null && kind !== 'public';
}
