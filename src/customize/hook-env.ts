/**
 * The environment hooks and roles see: xen-tools' variable names (its hooks read `$hostname`,
 * `$ip1`, `$dhcp`, ...) built from the GuestSpec, never holding a password.
 */
import { listGuestVolumes } from '../model/guest-volumes.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { prefixToNetmask } from './network.js';

const MIB = 1024 * 1024;

/** Names that must never reach a hook, whatever a caller merges in. */
export const SECRET_ENV_NAMES: readonly string[] = ['password', 'passwd', 'genpass', 'root_password'];

function mib(bytes: number): string {
  return `${Math.round(bytes / MIB)}M`;
}

/**
 * Builds the hook environment. Flags are `1` or absent, never `0`: xen-tools' own hooks test
 * `[ -z "$dhcp" ]`, and its `--nodhcp` exported `dhcp=0`, which those hooks read as DHCP.
 */
export function buildHookEnv(
  spec: GuestSpec,
  extra: Record<string, string | undefined> = {},
): Record<string, string> {
  const net = spec.network;
  const env: Record<string, string | undefined> = {
    hostname: spec.hostname,
    dist: spec.install.dist,
    arch: spec.install.arch,
    mirror: spec.install.mirror,
    install_method: spec.install.method,
    memory: mib(spec.memory),
    vcpus: String(spec.vcpus),
    size: mib(spec.disk.size),
    fs: spec.disk.fs,
    options: spec.disk.mountOptions,
    disk_device: spec.disk.device,
    swap: spec.swap ? mib(spec.swap.size) : undefined,
    noswap: spec.swap ? undefined : '1',
    mac: net.mac,
    dhcp: net.mode === 'dhcp' ? '1' : undefined,
    gateway: net.gateway,
    broadcast: net.broadcast,
    netmask:
      net.addresses[0] && !net.addresses[0].address.includes(':')
        ? prefixToNetmask(net.addresses[0].prefix)
        : undefined,
    p2p: net.p2p,
    nameserver: net.nameservers.length > 0 ? net.nameservers.join(' ') : undefined,
    bridge: net.bridge,
    vifname: net.vifname,
    vlan: net.vlan === undefined ? undefined : String(net.vlan),
    ip_count: String(net.mode === 'static' ? net.addresses.length : 0),
    serial_device: spec.boot.serialDevice,
    kernel: spec.boot.kernel,
    initrd: spec.boot.initrd,
    modules: spec.boot.modules,
    apt_proxy: spec.install.aptProxy,
    copyhosts: spec.copyHosts ? '1' : undefined,
    nohosts: spec.updateHostHosts ? undefined : '1',
    accounts: spec.accounts.copyAccounts ? '1' : undefined,
    admins: spec.accounts.admins.length > 0 ? spec.accounts.admins.join(',') : undefined,
    hash_method: spec.accounts.hashMethod,
    role: spec.hooks.roles.length > 0 ? spec.hooks.roles.join(',') : undefined,
    finalrole: spec.hooks.finalRoles.length > 0 ? spec.hooks.finalRoles.join(',') : undefined,
    role_args: spec.hooks.roleArgs,
    roledir: spec.hooks.roleDir,
    ...storageEnv(spec),
    ...partitionEnv(spec),
  };
  if (net.mode === 'static') net.addresses.forEach((a, i) => (env[`ip${i + 1}`] = a.address));
  Object.assign(env, extra);
  for (const name of SECRET_ENV_NAMES) delete env[name];
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

function storageEnv(spec: GuestSpec): Record<string, string | undefined> {
  const s = spec.storage;
  if (s.kind === 'file') return { dir: s.dir, image: s.allocation };
  if (s.kind === 'lvm') return { lvm: s.vg };
  return { image_dev: s.imageDev, swap_dev: s.swapDev };
}

/** xen-tools' PARTITIONn = name:size:type:mountpoint:options, by partition number (swap first). */
function partitionEnv(spec: GuestSpec): Record<string, string> {
  const parts = listGuestVolumes(spec).map(
    (v) => `${v.name}:${mib(v.size)}:${v.type}:${v.mountpoint}:${v.mountOptions}`,
  );
  const env: Record<string, string> = { NUMPARTITIONS: String(parts.length) };
  parts.forEach((p, i) => (env[`PARTITION${i + 1}`] = p));
  return env;
}
