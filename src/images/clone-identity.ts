/**
 * A new identity for a cloned guest tree (mounted from the clone's image): hostname, network
 * matched by the new MAC, fresh SSH host keys, an empty machine-id and a new random seed, done by
 * the same built-in steps xen-create-image runs; and the new filesystem UUIDs swapped into fstab,
 * the boot menu and its kernel hook by substitution, so the guest's own edits of those files stay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { findDistribution, type Distribution } from '../config/distributions.js';
import { KERNEL_HOOK, MENU_LST } from '../customize/boot-menu.js';
import { applyHostname } from '../customize/hostname.js';
import { applyMachineId, applyRandomSeed, applySshHostKeys } from '../customize/identity.js';
import { NETPLAN_FILE, NETWORKD_FILE } from '../customize/network.js';
import { applyNetwork } from '../customize/network-step.js';
import { TreeEditor } from '../customize/tree-editor.js';
import {
  HOST_FILES,
  type CustomizeResult,
  type HostFiles,
  type IdentityContext,
} from '../customize/types.js';
import { runtimeError } from '../errors.js';
import type { NetworkSpec } from '../model/guest-spec.js';
import type { StepContext } from '../plan/plan.js';
import { parseNetworkdFile, type GuestNetwork } from './guest-network.js';

/** Who the clone is. */
export interface CloneIdentity {
  /** Short name (first label). */
  name: string;
  domain: string | undefined;
  mac: string;
  /** The clone's network; undefined keeps the mode and addresses the tree has (DHCP guests). */
  network: Pick<GuestNetwork, 'mode' | 'addresses' | 'gateway' | 'nameservers'> | undefined;
  /** Old filesystem/swap UUID -> new one. */
  uuids: Map<string, string>;
  /** The same machine under a new identity (reset-identity): it keeps its static address. */
  isSameMachine?: boolean;
}

/** Files in which filesystem UUIDs are substituted (those that exist). */
export const UUID_FILES: readonly string[] = [
  '/etc/fstab',
  MENU_LST,
  KERNEL_HOOK,
  '/boot/grub/grub.cfg',
  '/etc/initramfs-tools/conf.d/resume',
  '/etc/crypttab',
];

/** Per-machine state that must not be shared by two guests; removed so the clone makes its own. */
export const PER_MACHINE_FILES: readonly string[] = ['/var/lib/systemd/credential.secret'];

/** What changed in the tree. */
export interface CloneIdentityResult extends CustomizeResult {
  /** Files whose UUIDs were rewritten. */
  uuidFiles: string[];
  /** The release found in /etc/os-release (VERSION_CODENAME). */
  release: string | undefined;
}

/** VERSION_CODENAME of /etc/os-release, or undefined. */
export function readReleaseCodename(osRelease: string | undefined): string | undefined {
  const match = /^VERSION_CODENAME=["']?([A-Za-z0-9._-]+)["']?\s*$/m.exec(osRelease ?? '');
  return match?.[1];
}

/** Replaces every old UUID with its new one (case-insensitively; written lower case). */
export function substituteUuids(text: string, uuids: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [before, after] of uuids) {
    out = out.replace(new RegExp(before.replace(/[^0-9a-f-]/gi, ''), 'gi'), after.toLowerCase());
  }
  return out;
}

/**
 * Gives the tree at `root` its new identity. Registers one undo that restores every touched file.
 * Returns the SSH host key fingerprints and the files whose UUIDs changed.
 */
export async function applyCloneIdentity(
  root: string,
  id: CloneIdentity,
  ctx: StepContext,
  host: Partial<HostFiles> = {},
): Promise<CloneIdentityResult> {
  const editor = new TreeEditor(root);
  ctx.undo.push(`restore the files changed in ${root}`, () => editor.rollback());
  const release = readReleaseCodename(editor.read('/etc/os-release') ?? editor.read('/usr/lib/os-release'));
  const hasNetplan = editor.isPresent(NETPLAN_FILE);
  const dist: Distribution | undefined = release ? findDistribution(release) : undefined;
  const effectiveDist: Distribution = {
    ...(dist ?? findDistribution('bookworm')!),
    networkWriter: hasNetplan ? 'netplan' : (dist?.networkWriter ?? 'networkd'),
  };
  const existing = parseNetworkdFile(editor.read(NETWORKD_FILE) ?? '');
  const wanted = id.network ?? existing;
  if (!id.network && existing.mode === 'static' && !id.isSameMachine) {
    throw runtimeError(
      'E_CLONE_NETWORK',
      `guest "${id.name}": the source has the static address ${existing.addresses[0]?.address ?? '?'}, a clone may not share it`,
      'give the clone its own address with --ip=ADDRESS, or --dhcp',
    );
  }
  const network: NetworkSpec = {
    mac: id.mac,
    macSource: 'given',
    mode: wanted.mode,
    addresses: wanted.addresses,
    gateway: wanted.gateway ?? existing.gateway,
    broadcast: undefined,
    p2p: undefined,
    nameservers: wanted.nameservers.length > 0 ? wanted.nameservers : existing.nameservers,
    bridge: undefined,
    vifname: undefined,
    vlan: undefined,
    autoIp: false,
  };
  const result: CloneIdentityResult = { sshHostKeys: [], warnings: [], uuidFiles: [], release };
  const c: IdentityContext = {
    root,
    spec: { name: id.name, domain: id.domain, network, copyHosts: false },
    dist: effectiveDist,
    editor,
    step: ctx,
    host: { ...HOST_FILES, ...host },
    useSystemctl: true,
    result,
  };
  await applyHostname(c);
  // A guest whose network xenkit did not write keeps its own config; only ours is re-rendered.
  if (editor.isPresent(NETWORKD_FILE) || hasNetplan) await applyNetwork(c);
  else
    ctx.sink({
      type: 'warn',
      message: `guest "${id.name}": no xenkit network file; its network config was left as it is`,
    });
  for (const file of UUID_FILES) {
    const text = editor.read(file);
    if (text === undefined) continue;
    const changed = substituteUuids(text, id.uuids);
    if (changed === text) continue;
    const mode = fs.statSync(path.join(root, file)).mode & 0o7777;
    editor.writeFile(file, changed, { mode });
    result.uuidFiles.push(file);
  }
  for (const file of PER_MACHINE_FILES) editor.remove(file);
  await applySshHostKeys(c);
  await applyMachineId(c);
  await applyRandomSeed(c);
  return result;
}
