/**
 * The user network of a QEMU guest (a vif without a bridge): 10.0.2.15/24, gateway 10.0.2.2,
 * resolver 10.0.2.3, served in one of three ways.
 *
 *  - By default, QEMU's own slirp (`-netdev user`) with QEMU in a network namespace of its own
 *    (and a mount namespace whose /etc/resolv.conf names 10.0.2.3), whose only way out is a
 *    slirp4netns `--disable-host-loopback` (tools/slirp4netns.ts). libslirp maps every address of
 *    the guest's network except the resolver (10.0.2.2 and any other 10.0.2.x) to 127.0.0.1;
 *    in that namespace 127.0.0.1 is empty, and slirp4netns refuses the same mapping onwards, so a
 *    guest cannot reach the host's loopback services. Its DNS goes 10.0.2.3 -> slirp4netns's
 *    10.0.2.3 -> the host's resolver (a loopback stub such as 127.0.0.53 included, which
 *    libslirp allows for DNS alone). Two libslirp stacks in a row, both the one QEMU has always
 *    used: slirp's reliability, without the loopback. A port forward from the host to the guest
 *    takes two hops: QEMU's `hostfwd` (QMP `hostfwd_add`) on the namespace's 10.0.2.100, and
 *    slirp4netns's `add_hostfwd` on its API socket (`slirp4netns.sock` in the runtime directory)
 *    from the host to 10.0.2.100 (tried by hand: a guest's listener answered through both).
 *  - With `xenkit_host_loopback = 1` in the cfg: plain QEMU slirp in the host's namespace, which
 *    lets the guest connect to services the host binds to 127.0.0.1 (via 10.0.2.2). QEMU 7.2 has
 *    no option for libslirp's `disable_host_loopback`, and `restrict=on` cuts off everything.
 *  - A guest that also has a bridged NIC cannot have its QEMU in another namespace (its taps
 *    must be in the host's, by their bridge), so its user NICs are served by passt
 *    (`--no-map-gw`, tools/passt.ts), which offers the same addresses without the loopback.
 *
 * Why not passt for every guest (measured with a busybox TCG guest on this 2-core host, whose
 * load average stayed 13-22 from other work, plus four busy loops for the "loaded" runs): the
 * stalls once blamed on load are Debian 12's passt (0.0~git20230309) mishandling a connection the
 * guest half-closes first (`echo req | nc host port`: its FIN before the reply). Replies of 11 B
 * to 1 MiB came repeated (4 KiB as 12 KiB, 32 KiB as 192 KiB), cut short, or never closed in 31
 * of 38 tries, at MTU 65520 and 1500 alike (a fault of passt's TCP state handling after the
 * guest's FIN, which no option reaches), where slirp delivered 6 of 6. Downloads that do not half-close
 * (wget, apt) held up through passt, 67 of 67 (32 KiB-4 MiB, with and without the busy loops).
 * passt also refuses to start on a host without a default route. The namespace above delivered
 * 64 of 64 through xm in both patterns (36 with the busy loops), 10.0.2.2 finding no listener.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError, XenkitError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { hasCommand } from '../../tools/exec.js';
import { guestResolvers, startPasst } from '../../tools/passt.js';
import {
  isNamespaceOnline,
  SLIRP4NETNS,
  slirp4netnsArgv,
  startSlirp4netns,
} from '../../tools/slirp4netns.js';
import type { RuntimePaths } from './runtime-paths.js';

/** The cfg key that opts in: 1 lets the guest reach the host's loopback (plain QEMU slirp); 0, the default, does not. */
export const HOST_LOOPBACK_KEY = 'xenkit_host_loopback';

const TRUE = ['1', 'yes', 'true', 'on'];
const FALSE = ['0', 'no', 'false', 'off', ''];

/** Whether the cfg's `xenkit_host_loopback` lets the guest reach host loopback (undefined: not a boolean). */
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

/** How a guest's user-network NICs are served (see above); `none` when every NIC is bridged. */
export type UserNetMode = 'namespace' | 'host-loopback' | 'passt' | 'none';

/** The mode for `dc`, given per vif the tap it gets (undefined: user network; default: none bridged). */
export function userNetMode(dc: DomainConfig, taps: readonly (string | undefined)[] = []): UserNetMode {
  if (!dc.vifs.some((_, index) => taps[index] === undefined)) return 'none';
  if (allowsHostLoopback(dc) === true) return 'host-loopback';
  return taps.some((tap) => tap !== undefined) ? 'passt' : 'namespace';
}

/** The UNIX socket QEMU's `-netdev stream` of NIC `index` connects to. */
export function userNetSocket(rt: RuntimePaths, index: number): string {
  return path.join(rt.dir, `net${index}.sock`);
}

function pidfileOf(rt: RuntimePaths, index: number): string {
  return path.join(rt.dir, `passt${index}.pid`);
}

const SLIRP_PIDFILE = 'slirp4netns.pid';

function namespaceResolvConf(rt: RuntimePaths): string {
  return path.join(rt.dir, 'resolv.conf');
}

/** Which programs serve the user network (default: found on PATH). */
export interface UserNetBinaries {
  passt?: string | undefined;
  slirp4netns?: string | undefined;
}

function missing(dc: DomainConfig, tool: string, cause?: unknown): XenkitError {
  return runtimeError(
    'E_TOOL_MISSING',
    `guest "${dc.name}": its user network needs ${tool}, which is not installed`,
    `apt-get install ${tool}; or set ${HOST_LOOPBACK_KEY} = 1 in the cfg for QEMU's own user network in the host's namespace, which lets the guest reach the host's 127.0.0.1 services`,
    cause,
  );
}

/**
 * Prepares the user network before QEMU starts: one passt per user NIC in `passt` mode; in
 * `namespace` mode the check for slirp4netns and the namespace's resolv.conf.
 */
export async function startUserNets(
  dc: DomainConfig,
  rt: RuntimePaths,
  taps: readonly (string | undefined)[],
  binaries: UserNetBinaries = {},
): Promise<void> {
  const mode = userNetMode(dc, taps);
  if (mode === 'namespace') {
    const binary = binaries.slirp4netns ?? SLIRP4NETNS;
    const found = binary.includes('/')
      ? await hasCommand(path.basename(binary), path.dirname(binary))
      : await hasCommand(binary);
    if (!found) throw missing(dc, 'slirp4netns');
    // QEMU's slirp forwards 10.0.2.3 to the first resolver it reads here: slirp4netns's.
    writeFileSync(namespaceResolvConf(rt), 'nameserver 10.0.2.3\n', { mode: 0o644 });
    return;
  }
  if (mode !== 'passt') return;
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
        ...(binaries.passt ? { binary: binaries.passt } : {}),
      });
    } catch (error) {
      if (error instanceof XenkitError && error.code === 'E_TOOL_MISSING') throw missing(dc, 'passt', error);
      throw error;
    }
  }
}

/**
 * The argv that starts QEMU: in `namespace` mode inside new network and mount namespaces, with
 * the namespace's resolv.conf bound over /etc/resolv.conf (a fixed script: the argv is passed as
 * its arguments, never spliced into it). QEMU daemonizes there and keeps the namespace alive.
 */
export function launchArgv(mode: UserNetMode, rt: RuntimePaths, qemuArgv: readonly string[]): string[] {
  if (mode !== 'namespace') return [...qemuArgv];
  return [
    'unshare',
    '--net',
    '--mount',
    '--',
    'sh',
    '-c',
    'mount --bind "$0" /etc/resolv.conf && exec "$@"',
    namespaceResolvConf(rt),
    ...qemuArgv,
  ];
}

/**
 * Connects the namespace of the QEMU `pid` to the outside (`namespace` mode): starts slirp4netns
 * for it, records its pid, and waits until the namespace has its route out (the guest is still
 * stopped, so it cannot race it).
 */
export async function connectUserNet(
  mode: UserNetMode,
  rt: RuntimePaths,
  pid: number,
  binaries: UserNetBinaries = {},
): Promise<void> {
  if (mode !== 'namespace') return;
  const options = {
    pid,
    apiSocket: path.join(rt.dir, 'slirp4netns.sock'),
    ...(binaries.slirp4netns ? { binary: binaries.slirp4netns } : {}),
  };
  const slirp = startSlirp4netns(options);
  if (slirp === undefined) {
    throw runtimeError(
      'E_USER_NET',
      `could not start ${slirp4netnsArgv(options).join(' ')}`,
      'is slirp4netns installed?',
    );
  }
  writeFileSync(path.join(rt.dir, SLIRP_PIDFILE), `${slirp}\n`, { mode: 0o600 });
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (await isNamespaceOnline(pid)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw runtimeError(
    'E_USER_NET',
    `slirp4netns (pid ${slirp}) did not connect the network namespace of QEMU (pid ${pid}) within 15 s`,
    `see whether \`${slirp4netnsArgv(options).join(' ')}\` runs by hand`,
  );
}

/**
 * Ends the helpers of a guest's runtime directory: passt (which also ends with QEMU by itself)
 * and slirp4netns (which outlives its namespace, so every path that finds QEMU gone calls this).
 * `originDir`: the directory the guest started in, which its helpers' command lines name, when
 * it has been renamed since.
 */
export function stopUserNets(rt: RuntimePaths, originDir?: string): void {
  let files: string[];
  try {
    files = readdirSync(rt.dir).filter((f) => /^passt\d+\.pid$/.test(f) || f === SLIRP_PIDFILE);
  } catch {
    return;
  }
  for (const file of files) {
    try {
      const pid = Number.parseInt(readFileSync(path.join(rt.dir, file), 'utf8'), 10);
      // Only the helper serving this directory (a recycled pid is left alone).
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const serves = cmdline.includes(rt.dir) || (originDir !== undefined && cmdline.includes(originDir));
      if (/passt|slirp4netns/.test(cmdline) && serves) process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
}
