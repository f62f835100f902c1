/**
 * The user network of a QEMU guest (a vif without a bridge). By default each such NIC gets a
 * passt process (see tools/passt.ts) offering the same addresses QEMU's slirp would
 * (10.0.2.15/24, gateway 10.0.2.2, resolver 10.0.2.3), with one difference: the gateway is not
 * the host, so the guest cannot connect to services the host binds to 127.0.0.1 or ::1.
 *
 * DNS: the guest is handed the host's own (non-loopback) resolvers by DHCP, and queries to
 * 10.0.2.3 go to the first of them, as with slirp. Behind a loopback stub (systemd-resolved)
 * the guest gets the upstream servers by DHCP, but 10.0.2.3 does not answer (see
 * guestResolvers). A host that resolves only through a loopback resolver with no upstream
 * listed leaves the guest without DNS: that resolver is exactly a host loopback service. Such
 * a guest needs `xenkit_host_loopback = 1` or a resolver of its own.
 *
 * Why not QEMU's own user network: libslirp maps every address of the guest's network except
 * the resolver (10.0.2.2 and any other 10.0.2.x) to the host's 127.0.0.1 and ::1. libslirp
 * 4.7 can turn that off (`disable_host_loopback`), but QEMU 7.2 offers no option for it, and
 * `restrict=on` cuts off all outbound traffic and DNS as well. The cfg key
 * `xenkit_host_loopback = 1` brings QEMU's own user network back, host loopback included.
 *
 * Known limit of Debian 12's passt (0.0~git20230309) with QEMU 7.2's `-netdev stream`: on a
 * loaded 2-core host, a TCG guest stalled on a 1 MiB HTTP download (32 KiB and 256 KiB over nc
 * too, 4 of 4 tries) and was handed a short reply three times over (3 of ~10 tries), where
 * slirp delivered both. A newer passt, or `xenkit_host_loopback = 1`, is the way out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError, XenkitError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { guestResolvers, startPasst } from '../../tools/passt.js';
import type { RuntimePaths } from './runtime-paths.js';

/** The cfg key that gives a guest QEMU's built-in user network, host loopback included. */
export const HOST_LOOPBACK_KEY = 'xenkit_host_loopback';

const TRUE = ['1', 'yes', 'true', 'on'];
const FALSE = ['0', 'no', 'false', 'off', ''];

/** Whether the cfg's `xenkit_host_loopback` is set (undefined when its value is not a boolean). */
export function allowsHostLoopback(dc: DomainConfig): boolean | undefined {
  const value = dc.raw[HOST_LOOPBACK_KEY];
  if (value === undefined) return false;
  const text = String(value).trim().toLowerCase();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  return undefined;
}

const RESOLV_CONFS = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'];

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The UNIX socket QEMU's `-netdev stream` of NIC `index` connects to. */
export function userNetSocket(rt: RuntimePaths, index: number): string {
  return path.join(rt.dir, `net${index}.sock`);
}

function pidfileOf(rt: RuntimePaths, index: number): string {
  return path.join(rt.dir, `passt${index}.pid`);
}

/** Starts one passt per user-network NIC of `dc` (none with `xenkit_host_loopback = 1`). */
export async function startUserNets(
  dc: DomainConfig,
  rt: RuntimePaths,
  taps: readonly (string | undefined)[],
  binary?: string,
): Promise<void> {
  if (allowsHostLoopback(dc) === true) return;
  const resolvers = guestResolvers(RESOLV_CONFS.map(readText));
  for (const index of dc.vifs.keys()) {
    if (taps[index] !== undefined) continue;
    try {
      await startPasst({
        socket: userNetSocket(rt, index),
        pidfile: pidfileOf(rt, index),
        logFile: path.join(rt.dir, `passt${index}.log`),
        address: '10.0.2.15',
        netmaskBits: 24,
        gateway: '10.0.2.2',
        dnsForward: '10.0.2.3',
        dns: resolvers,
        ...(binary ? { binary } : {}),
      });
    } catch (error) {
      if (error instanceof XenkitError && error.code === 'E_TOOL_MISSING') {
        throw runtimeError(
          'E_TOOL_MISSING',
          `guest "${dc.name}": its user network needs passt, which is not installed`,
          `apt-get install passt; or set ${HOST_LOOPBACK_KEY} = 1 in the cfg for QEMU's own user network, which lets the guest reach the host's 127.0.0.1 services`,
          error,
        );
      }
      throw error;
    }
  }
}

/** Ends the passt processes of a guest's runtime directory (they end with QEMU by themselves). */
export function stopUserNets(rt: RuntimePaths): void {
  let files: string[];
  try {
    files = readdirSync(rt.dir).filter((f) => /^passt\d+\.pid$/.test(f));
  } catch {
    return;
  }
  for (const file of files) {
    try {
      const pid = Number.parseInt(readFileSync(path.join(rt.dir, file), 'utf8'), 10);
      // Only the passt serving this directory's socket (a recycled pid is left alone).
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes('passt') && cmdline.includes(rt.dir)) process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
}
