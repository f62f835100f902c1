/**
 * slirp4netns: libslirp (the same user-mode stack as QEMU's `-netdev user`) serving a network
 * namespace through a tap device in it. The QEMU driver runs a guest's QEMU in a namespace of its
 * own and gives that namespace its way out with slirp4netns `--disable-host-loopback`, so QEMU's
 * slirp keeps its addresses and behaviour while the host's 127.0.0.1 is out of its reach.
 */
import { runCommand, spawnDetached, type ExecOptions } from './exec.js';

/** The slirp4netns binary. */
export const SLIRP4NETNS = 'slirp4netns';

/** One slirp4netns for the network namespace of process `pid`. */
export interface Slirp4netnsOptions {
  pid: number;
  /** Its API socket (also what ties the process to its guest's runtime directory). */
  apiSocket: string;
  binary?: string;
}

/** The argv that gives the namespace of `pid` a tap `tap0` (10.0.2.100/24, DNS 10.0.2.3) to the outside. */
export function slirp4netnsArgv(o: Slirp4netnsOptions): string[] {
  return [
    o.binary ?? SLIRP4NETNS,
    // Address, default route and lo of the namespace; DNS at 10.0.2.3 (forwarded to the host's).
    '--configure',
    '--mtu=65520',
    // 10.0.2.2 must not become the host's 127.0.0.1 here either.
    '--disable-host-loopback',
    `--api-socket=${o.apiSocket}`,
    String(o.pid),
    'tap0',
  ];
}

/** Starts slirp4netns in the background and returns its pid (undefined: it could not start). */
export function startSlirp4netns(
  o: Slirp4netnsOptions,
  options: Pick<ExecOptions, 'sink'> = {},
): number | undefined {
  return spawnDetached(slirp4netnsArgv(o), options);
}

/** Whether the namespace of `pid` has its tap configured yet (slirp4netns is ready). */
export async function isNamespaceOnline(pid: number): Promise<boolean> {
  const result = await runCommand(
    ['nsenter', `--net=/proc/${pid}/ns/net`, 'ip', '-4', '-o', 'route', 'show', 'default'],
    { allowFailure: true, timeoutMs: 10_000 },
  );
  return result.exitCode === 0 && result.stdout.includes('tap0');
}
