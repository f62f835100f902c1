/**
 * `xenkit clone SRC NEW`: a stopped guest copied (full: sparse copies of every image) or linked
 * (linked: one qcow2 overlay per image on the source's images, which become read-only), then given
 * a new identity inside the images and its own cfg. One Plan with undo, like create-image.
 */
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import { assertGuestName } from '../model/guest-name.js';
import { deriveXenToolsMac, randomXenMac } from '../model/mac.js';
import type { StaticAddress } from '../model/guest-spec.js';
import { underRoot, type Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import { settleAll } from '../plan/settle-all.js';
import type { Plan, PlanStep } from '../plan/plan.js';
import { writeFileAtomically } from '../plan/write-file.js';
import { copyImageArgv } from '../tools/cp.js';
import { createOverlayArgv } from '../tools/qemu-img.js';
import { makeParents } from '../storage/image-file.js';
import { renderCloneCfg, type CloneDiskChange } from './clone-cfg.js';
import { hostKeyPoolDir } from '../customize/host-key-pool.js';
import { startHostKeysAhead } from '../customize/identity.js';
import { cloneImage, identifyClone, type ClonedDisk } from './clone-steps.js';
import { cfgPathOf, isPresent, logPathOf, readGuest, type GuestFiles } from './guest-files.js';
import { networkFromCfg } from './guest-network.js';
import { markBaseImages } from './linked-base.js';
import { guestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

export interface CloneOptions {
  source: string;
  /** The clone's host name (may be fully qualified; the first label names the guest). */
  hostname: string;
  linked: boolean;
  /** `--dir`: images go to DIR/domains/NAME (default: beside the source's guest directory). */
  dir: string | undefined;
  /** New network; undefined keeps the source's mode (DHCP only: a static address is not shared). */
  network:
    | { mode: 'dhcp' }
    | { mode: 'static'; addresses: StaticAddress[]; gateway?: string; nameservers?: string[] }
    | undefined;
  mac: { kind: 'derived' } | { kind: 'given'; mac: string } | { kind: 'random' };
  running?: RunningCheckOptions;
}

/** What the run produced, for the summary. */
export interface CloneOutcome {
  source: string;
  name: string;
  mode: 'full' | 'linked';
  cfgPath: string;
  logPath: string;
  guestDir: string;
  mac: string | undefined;
  macSource: 'derived' | 'given' | 'random';
  disks: ClonedDisk[];
  sshHostKeys: { type: string; bits: number; fingerprint: string }[];
  release: string | undefined;
  uuidFiles: string[];
  timings: Record<string, number>;
}

/** Where the clone's images go: DIR/domains/NEW, else the source's `domains/SRC` with NEW. */
export function cloneGuestDir(
  paths: Paths,
  source: GuestFiles,
  name: string,
  dir: string | undefined,
): string {
  if (dir) return path.join(underRoot(paths, dir), 'domains', name);
  const first = source.disks[0];
  const parent = first ? path.dirname(first.path) : undefined;
  if (!parent || path.basename(parent) !== source.name || path.basename(path.dirname(parent)) !== 'domains') {
    throw usageError(
      'E_CLONE_DIR',
      `guest "${source.name}": its images are not in a DIR/domains/${source.name} directory`,
      'say where the clone goes with --dir=DIR (images go to DIR/domains/NEW)',
    );
  }
  return path.join(path.dirname(parent), name);
}

/** Checks everything that can be checked before acting; builds the plan. */
export async function buildClonePlan(
  paths: Paths,
  options: CloneOptions,
): Promise<{ plan: Plan; outcome: CloneOutcome }> {
  assertGuestName(options.hostname, 'command line');
  const name = options.hostname.split('.')[0] as string;
  const domain = options.hostname.includes('.') ? options.hostname.slice(name.length + 1) : undefined;
  const source = readGuest(paths, options.source);
  if (name === source.name) {
    throw usageError(
      'E_CLONE_NAME',
      `guest "${name}": a clone needs a name of its own`,
      'give another NEW name',
    );
  }
  // The source must not change under the copy (a reader such as a linked clone's QEMU is no
  // harm); the target may not run either (a QEMU left running under the new name).
  const sourceIdentity = { ...guestIdentity(source.name, source), isReadingAllowed: true };
  await refuseRunningGuest(sourceIdentity, paths, 'clone', options.running);
  await refuseRunningGuest(name, paths, 'clone onto', options.running);
  const cfgPath = cfgPathOf(paths, name);
  if (isPresent(cfgPath)) {
    throw runtimeError(
      'E_EXISTS',
      `guest "${name}" exists already (${cfgPath})`,
      `pick another name, or delete it first: xenkit delete-image ${name}`,
    );
  }
  const guestDir = cloneGuestDir(paths, source, name, options.dir);
  if (isPresent(guestDir)) {
    throw runtimeError(
      'E_EXISTS',
      `guest "${name}": ${guestDir} exists already`,
      'remove it, or pick another name',
    );
  }
  const missing = source.disks.filter((d) => !d.isFile);
  if (missing.length > 0) {
    throw usageError(
      'E_CLONE_DISK',
      `guest "${source.name}": ${missing.map((d) => d.path).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not an image file`,
      'clone copies image files; block devices and LVM volumes are not supported',
    );
  }
  const sourceNet = networkFromCfg(source.config);
  const netMode = options.network?.mode ?? sourceNet.mode;
  if (!options.network && sourceNet.mode === 'static') {
    throw usageError(
      'E_CLONE_NETWORK',
      `guest "${name}": the source has the static address ${sourceNet.addresses[0]?.address ?? '?'}, a clone may not share it`,
      'give the clone its own address with --ip=ADDRESS, or --dhcp',
    );
  }
  const addresses = options.network?.mode === 'static' ? options.network.addresses : [];
  const mode = options.linked ? 'linked' : 'full';
  const changes: CloneDiskChange[] = source.disks.map((d) => ({
    from: d.config,
    target: path.join(guestDir, path.basename(d.path)),
    format: options.linked ? 'qcow2' : d.config.format,
  }));
  const outcome: CloneOutcome = {
    source: source.name,
    name,
    mode,
    cfgPath,
    logPath: logPathOf(paths, name),
    guestDir,
    mac:
      options.mac.kind === 'given'
        ? options.mac.mac
        : options.mac.kind === 'random'
          ? randomXenMac()
          : undefined,
    macSource: options.mac.kind,
    disks: [],
    sshHostKeys: [],
    release: undefined,
    uuidFiles: [],
    timings: {},
  };
  const timed = async (key: string, fn: () => Promise<void>): Promise<void> => {
    const started = performance.now();
    await fn();
    outcome.timings[key] = Math.round(performance.now() - started);
  };
  const steps: PlanStep[] = [];
  steps.push({
    id: 'clone.lock',
    title: `Lock guests ${source.name} and ${name}`,
    actions: [
      {
        kind: 'note',
        text: `take the locks of ${source.name} and ${name}; check again that ${source.name} is stopped`,
      },
    ],
    run: async (ctx) => {
      for (const guest of [source.name, name]) await lockGuest(paths.lockDir, guest, ctx);
      await refuseRunningGuest(sourceIdentity, paths, 'clone', options.running);
      await refuseRunningGuest(name, paths, 'clone onto', options.running);
      // RSA keygen takes longer than copying the images: run it alongside.
      startHostKeysAhead(name, ctx, hostKeyPoolDir(paths.cacheDir));
    },
  });
  steps.push({
    id: 'clone.images',
    title: `${options.linked ? 'Make qcow2 overlays on' : 'Copy'} the images of ${source.name} into ${guestDir}`,
    actions: [
      { kind: 'mkdir', path: guestDir, mode: 0o755 },
      ...changes.map((c) => ({
        kind: 'run' as const,
        argv: options.linked
          ? createOverlayArgv(underRoot(paths, c.from.target), c.from.format, c.target)
          : copyImageArgv(underRoot(paths, c.from.target), c.target),
      })),
    ],
    run: (ctx) =>
      timed('images', async () => {
        await makeParents(guestDir, ctx);
        // All images at once: overlays are a qemu-img run each, copies are I/O on other files.
        const cloned = await settleAll(
          changes.map((change, i) => {
            const disk = source.disks[i];
            return disk ? cloneImage(disk, change, options.linked, ctx) : Promise.resolve(undefined);
          }),
        );
        for (const disk of cloned) if (disk) outcome.disks.push(disk);
      }),
  });
  steps.push({
    id: 'clone.identity',
    title: `Give ${name} its own identity inside the images`,
    actions: [
      {
        kind: 'note',
        text: 'open each image raw (qcow2: qemu-storage-daemon FUSE export), probe it with blkid',
      },
      {
        kind: 'note',
        text: 'swap: mkswap -U NEW-UUID; filesystems: a new UUID each (tune2fs -U / xfs_admin -U / btrfstune -U)',
      },
      {
        kind: 'note',
        text: 'root filesystem: loop-mount, then hostname, hosts, network by MAC, fstab/menu.lst UUIDs, SSH host keys, empty machine-id, random seed',
      },
      {
        kind: 'note',
        text: `MAC: ${outcome.mac ?? `derived as xen-tools does from "${options.hostname}", ${netMode === 'dhcp' ? 'DHCP' : addresses.map((a) => a.address).join(',')} and the guest's release`}`,
      },
    ],
    run: (ctx) =>
      timed('identity', async () => {
        const result = await identifyClone(
          outcome.disks,
          {
            name,
            domain,
            network: options.network
              ? {
                  mode: options.network.mode,
                  addresses,
                  gateway: options.network.mode === 'static' ? options.network.gateway : undefined,
                  nameservers: options.network.mode === 'static' ? (options.network.nameservers ?? []) : [],
                }
              : undefined,
            chooseMac: (release) =>
              outcome.mac ??
              deriveXenToolsMac({
                hostname: options.hostname,
                ips: addresses.map((a) => a.address),
                dhcp: netMode === 'dhcp',
                dist: release ?? '',
              }),
          },
          ctx,
          outcome.timings,
        );
        outcome.mac = result.mac;
        outcome.sshHostKeys = result.sshHostKeys;
        outcome.release = result.release;
        outcome.uuidFiles = result.uuidFiles;
      }),
  });
  steps.push({
    id: 'clone.config',
    title: `Write the domain config ${cfgPath}`,
    actions: [{ kind: 'write', path: cfgPath, mode: 0o644 }],
    run: async (ctx) => {
      const text = renderCloneCfg(source.cfgText, source.config.vifs[0]?.raw, {
        sourceName: source.name,
        name,
        disks: changes,
        mac: outcome.mac ?? '',
        network: { mode: netMode, addresses: addresses.map((a) => a.address) },
        note: `Cloned from ${source.name} (${mode} clone) by xenkit on ${new Date().toISOString()}.`,
      });
      await writeFileAtomically(cfgPath, text, 0o644, ctx);
    },
  });
  if (options.linked) {
    steps.push({
      id: 'clone.base',
      title: `Make the images of ${source.name} read-only: they back the linked clone`,
      actions: [
        ...source.disks.flatMap((d) => [
          { kind: 'run' as const, argv: ['chmod', '0400', d.path] },
          { kind: 'run' as const, argv: ['chattr', '+i', '--', d.path] },
        ]),
        { kind: 'write', path: source.cfgPath, mode: 0o644 },
      ],
      run: (ctx) =>
        markBaseImages(
          source.cfgPath,
          source.disks.map((d) => d.path),
          ctx,
        ),
    });
  }
  return { plan: { subject: `clone ${source.name} -> ${name}`, steps }, outcome };
}
