/**
 * passt: user-mode networking for one QEMU guest in a process of its own, reached by QEMU's
 * `-netdev stream` (QEMU >= 7.2) over a UNIX socket. Unlike QEMU's built-in slirp it can keep
 * the guest away from the host's loopback services (`--no-map-gw`).
 */
import { runCommand, type ExecOptions } from './exec.js';

/** The passt binary. */
export const PASST = 'passt';

/** One passt instance: its socket and files, and the IPv4 network it offers the guest. */
export interface PasstOptions {
  socket: string;
  pidfile: string;
  logFile: string;
  /** The guest's address, handed out by passt's DHCP server. */
  address: string;
  netmaskBits: number;
  gateway: string;
  /** An address of the guest's network whose DNS queries go to the host's resolver. */
  dnsForward: string;
  /** The resolvers handed to the guest by DHCP (default: passt reads /etc/resolv.conf; see guestResolvers). */
  dns?: readonly string[];
  binary?: string;
}

/** The argv that starts passt in the background, serving one QEMU, then exiting with it. */
export function passtArgv(o: PasstOptions): string[] {
  return [
    o.binary ?? PASST,
    // Quits when its one client (QEMU) goes away, so nothing outlives the guest.
    '--one-off',
    '--socket',
    o.socket,
    '--pid',
    o.pidfile,
    '--log-file',
    o.logFile,
    '--quiet',
    // Started as root, passt would switch to nobody before writing its pidfile, which then
    // cannot be written into the guest's 0700 runtime directory; it still drops every
    // capability and isolates itself in its own namespaces.
    '--runas',
    '0:0',
    // The gateway address is not the host: a guest cannot reach 127.0.0.1-only services.
    '--no-map-gw',
    '--address',
    o.address,
    '--netmask',
    String(o.netmaskBits),
    '--gateway',
    o.gateway,
    '--dns-forward',
    o.dnsForward,
    ...(o.dns ?? []).flatMap((address) => ['--dns', address]),
    '--tcp-ports',
    'none',
    '--udp-ports',
    'none',
  ];
}

/**
 * The resolvers to name with `--dns`, given the texts of /etc/resolv.conf and then
 * /run/systemd/resolve/resolv.conf: none when /etc/resolv.conf has a non-loopback nameserver
 * (passt reads it itself, hands it out by DHCP and forwards the `--dns-forward` address to it;
 * in passt 0.0~git20230309 an explicit `--dns` stops that forwarding). When it names only a
 * loopback stub (systemd-resolved's 127.0.0.53), which the guest must not reach, the upstream
 * servers of the next file, for DHCP.
 */
export function guestResolvers(resolvConfs: readonly string[]): string[] {
  const usable = (text: string): string[] =>
    [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
      .map((m) => m[1] ?? '')
      .filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith('127.') && a !== '0.0.0.0');
  const [first = '', ...rest] = resolvConfs;
  if (usable(first).length > 0) return [];
  for (const text of rest) {
    const servers = usable(text);
    if (servers.length > 0) return servers.slice(0, 3);
  }
  return [];
}

/** Starts passt; it returns once its socket is bound and it has gone to the background. */
export async function startPasst(o: PasstOptions, options: ExecOptions = {}): Promise<void> {
  await runCommand(passtArgv(o), { timeoutMs: 15_000, ...options });
}
