/**
 * The user network of a QEMU guest (a vif without a bridge). Two ways to serve it:
 *
 *  - QEMU's own slirp (`-netdev user`, the default): 10.0.2.15/24, gateway 10.0.2.2, resolver
 *    10.0.2.3. libslirp maps every address of the guest's network except the resolver (10.0.2.2
 *    and any other 10.0.2.x) to the host's 127.0.0.1 and ::1, so the guest can connect to
 *    services the host binds to loopback only. libslirp 4.7 can turn that off
 *    (`disable_host_loopback`), but QEMU 7.2 offers no option for it, and `restrict=on` cuts
 *    off all outbound traffic and DNS as well.
 *  - passt (`xenkit_host_loopback = 0` in the cfg; see tools/passt.ts) offering the same
 *    addresses, except that the gateway is not the host: the host's loopback services are out of
 *    the guest's reach. DNS: the guest is handed the host's own (non-loopback) resolvers by DHCP,
 *    and queries to 10.0.2.3 go to the first of them. Behind a loopback stub (systemd-resolved)
 *    the guest gets the upstream servers by DHCP, but 10.0.2.3 does not answer (see
 *    guestResolvers); a host that resolves only through a loopback resolver with no upstream
 *    listed leaves the guest without DNS.
 *
 * Why slirp stays the default: Debian 12's passt (0.0~git20230309) with QEMU 7.2's
 * `-netdev stream` was seen, on a loaded 2-core host, to stall a TCG guest's 1 MiB HTTP download
 * (32 KiB and 256 KiB over nc too, 4 of 4 tries) and to hand it a short reply three times over
 * (3 of ~10 tries), where slirp delivered both. A guest whose downloads break is worse than one
 * that can reach the host's loopback; with a passt that holds up, the default should turn.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError, XenkitError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { guestResolvers, startPasst } from '../../tools/passt.js';
import type { RuntimePaths } from './runtime-paths.js';

/** The cfg key that chooses: 1 (default) QEMU's slirp, host loopback included; 0 passt, without it. */
export const HOST_LOOPBACK_KEY = 'xenkit_host_loopback';

const TRUE = ['1', 'yes', 'true', 'on'];
const FALSE = ['0', 'no', 'false', 'off', ''];

/** Whether the cfg's `xenkit_host_loopback` lets the guest reach host loopback (undefined: not a boolean). */
export function allowsHostLoopback(dc: DomainConfig): boolean | undefined {
  const value = dc.raw[HOST_LOOPBACK_KEY];
  if (value === undefined) return true;
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

/** Starts one passt per user-network NIC of `dc` when the cfg asks for it (`xenkit_host_loopback = 0`). */
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
