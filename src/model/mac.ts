/** MAC addresses: xen-tools' derivation (so a migrating user keeps the same MAC), random, parsing. */
import { createHash, randomBytes } from 'node:crypto';
import { usageError } from '../errors.js';

/** Xen's OUI. */
export const XEN_OUI = '00:16:3E';

export interface MacInputs {
  hostname: string;
  /** Every `--ip` given, in order (xen-tools joins them with commas). */
  ips: string[];
  /** xen-tools' `dhcp` setting as it holds it: 1 when DHCP, otherwise unset or 0. */
  dhcp: boolean;
  dist: string;
}

/**
 * The MAC xen-tools 4.9.2 derives for a guest: `00:16:3E` then the first three bytes of
 * md5(hostname + ips.join(',') + (dhcp ? '1' : '') + dist), upper case. (Its Perl loop skips
 * false values: an empty ip list and dhcp=0 add nothing.)
 */
export function deriveXenToolsMac(inputs: MacInputs): string {
  const data = inputs.hostname + inputs.ips.join(',') + (inputs.dhcp ? '1' : '') + inputs.dist;
  const hex = createHash('md5').update(data, 'utf8').digest('hex');
  return `${XEN_OUI}:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`.toUpperCase();
}

/** A random MAC under Xen's prefix from the host's CSPRNG (xen-tools uses Perl's rand). */
export function randomXenMac(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(3);
  return `${XEN_OUI}:${[...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
}

const MAC_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;

/** Validates and normalizes a MAC (`aa-bb-...` or `AA:BB:...`) to upper case with colons. */
export function parseMac(text: string, what = 'MAC address'): string {
  if (!MAC_RE.test(text)) {
    throw usageError(
      'E_MAC',
      `${what} "${text}" is not a MAC address`,
      'write six hex bytes: 00:16:3e:12:34:56',
    );
  }
  const mac = text.replace(/-/g, ':').toUpperCase();
  const first = parseInt(mac.slice(0, 2), 16);
  if (first & 1) {
    throw usageError(
      'E_MAC',
      `${what} "${text}" is a multicast address`,
      'the first byte must be even (unicast), e.g. 00:16:3e:12:34:56',
    );
  }
  if (mac === '00:00:00:00:00:00') {
    throw usageError('E_MAC', `${what} "${text}" is all zeros`, 'use --randommac or give a real address');
  }
  return mac;
}
