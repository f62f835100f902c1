/**
 * IPv4/IPv6 addresses as numbers: parsing (stricter than node:net), prefixes from netmasks,
 * network membership and broadcast addresses, for validating a guest's static network.
 */
import { isIP } from 'node:net';
import { usageError } from '../errors.js';

export type IpFamily = 4 | 6;

/** A parsed address: its family, its numeric value and its canonical text. */
export interface IpAddress {
  family: IpFamily;
  value: bigint;
  text: string;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** Number of bits of an address of this family. */
export function familyBits(family: IpFamily): number {
  return BITS[family];
}

function allOnes(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

/** Formats a numeric address canonically (IPv6 compressed as RFC 5952 says). */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (of at least two) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function ipv4ToBigint(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(text: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups first.
  const body = text.replace(/([0-9.]+)$/, (tail) => {
    if (!tail.includes('.')) return tail;
    const v4 = ipv4ToBigint(tail);
    return `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  });
  const [head = '', rest] = body.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array.from({ length: zeros }, () => '0'), ...restGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * Parses one address. Beyond `node:net`'s isIP it refuses IPv6 zone ids (`fe80::1%eth0`:
 * meaningless in a guest's config) and surrounding blanks. `what` names the input.
 */
export function parseIp(text: string, what: string): IpAddress {
  const family = isIP(text);
  const hint = 'write an address like 192.168.1.10 or 2001:db8::10';
  if (family === 0) throw usageError('E_IP', `${what} "${text}" is not an IP address`, hint);
  if (text.includes('%')) {
    throw usageError('E_IP', `${what} "${text}" has a zone id`, 'leave out the %interface part');
  }
  const value = family === 4 ? ipv4ToBigint(text) : ipv6ToBigint(text.toLowerCase());
  return { family: family as IpFamily, value, text: formatIp(family as IpFamily, value) };
}

/** Parses `ADDRESS` or `ADDRESS/PREFIX`; the prefix is undefined when not written. */
export function parseIpWithPrefix(
  text: string,
  what: string,
): { address: IpAddress; prefix: number | undefined } {
  const slash = text.indexOf('/');
  if (slash < 0) return { address: parseIp(text, what), prefix: undefined };
  const address = parseIp(text.slice(0, slash), what);
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^[0-9]{1,3}$/.test(prefixText) || prefix > familyBits(address.family)) {
    throw usageError(
      'E_IP',
      `${what} "${text}" has a bad prefix length "${prefixText}"`,
      `use a number from 0 to ${familyBits(address.family)}, e.g. 192.168.1.10/24`,
    );
  }
  return { address, prefix };
}

/** The netmask of a prefix: `/24` is `255.255.255.0` (IPv4) or `ffff:ffff:...` (IPv6). */
export function maskValue(family: IpFamily, prefix: number): bigint {
  const bits = familyBits(family);
  return allOnes(bits) ^ allOnes(bits - prefix);
}

/** The dotted netmask for an IPv4 prefix length. */
export function netmaskFromPrefix(prefix: number): string {
  return formatIp(4, maskValue(4, prefix));
}

/**
 * The prefix length of a netmask. Accepts dotted IPv4 (`255.255.255.0`), a bare length (`24`
 * or `/24`); refuses non-contiguous masks like `255.0.255.0`, which no modern stack allows.
 */
export function prefixFromNetmask(text: string, what: string): number {
  const bare = /^\/?([0-9]{1,3})$/.exec(text);
  if (bare) {
    const prefix = Number(bare[1]);
    if (prefix > 32) {
      throw usageError('E_NETMASK', `${what} "${text}" is longer than 32 bits`, 'use 0 to 32, e.g. 24');
    }
    return prefix;
  }
  const mask = parseIp(text, what);
  if (mask.family !== 4) {
    throw usageError(
      'E_NETMASK',
      `${what} "${text}" is not an IPv4 netmask`,
      'write it like 255.255.255.0 or 24',
    );
  }
  const inverted = ~mask.value & allOnes(32);
  // A contiguous mask inverted is 2^n - 1: all ones at the bottom.
  if ((inverted & (inverted + 1n)) !== 0n) {
    throw usageError(
      'E_NETMASK',
      `${what} "${text}" is not a contiguous netmask`,
      'a netmask is ones then zeros, e.g. 255.255.255.0 (/24) or 255.255.254.0 (/23)',
    );
  }
  return 32 - inverted.toString(2).replace(/^0+$/, '').length;
}

/** The network address of `address/prefix`. */
export function networkOf(address: IpAddress, prefix: number): IpAddress {
  const value = address.value & maskValue(address.family, prefix);
  return { family: address.family, value, text: formatIp(address.family, value) };
}

/** Whether `candidate` lies in the network of `address/prefix` (same family only). */
export function isInNetwork(candidate: IpAddress, address: IpAddress, prefix: number): boolean {
  if (candidate.family !== address.family) return false;
  const mask = maskValue(address.family, prefix);
  return (candidate.value & mask) === (address.value & mask);
}

/** The IPv4 broadcast address of `address/prefix`. */
export function broadcastOf(address: IpAddress, prefix: number): IpAddress {
  const value = address.value | (allOnes(familyBits(address.family)) ^ maskValue(address.family, prefix));
  return { family: address.family, value, text: formatIp(address.family, value) };
}

/**
 * Why `address/prefix` cannot be a guest's own address, or undefined when it can: the
 * unspecified, loopback and multicast ranges, and an IPv4 subnet's network or broadcast address.
 */
export function describeUnusableHost(address: IpAddress, prefix: number): string | undefined {
  if (address.value === 0n) return 'is the unspecified address';
  if (address.family === 4) {
    if (address.value >> 24n === 127n) return 'is a loopback address';
    if (address.value >> 28n === 0xen) return 'is a multicast address';
    if (address.value === allOnes(32)) return 'is the limited broadcast address';
    if (prefix <= 30) {
      if (address.value === networkOf(address, prefix).value)
        return `is the network address of its /${prefix}`;
      if (address.value === broadcastOf(address, prefix).value)
        return `is the broadcast address of its /${prefix}`;
    }
    return undefined;
  }
  if (address.value === 1n) return 'is the loopback address';
  if (address.value >> 120n === 0xffn) return 'is a multicast address';
  return undefined;
}
