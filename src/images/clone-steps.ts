/** The work of a clone: the image copies or overlays, then the new identity inside them. */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { StepContext } from '../plan/plan.js';
import { probeBlock } from '../tools/blkid.js';
import { copyImage } from '../tools/cp.js';
import { checkExtFs } from '../tools/e2fsck.js';
import { makeSwapSignature } from '../tools/mkfs.js';
import { createOverlay } from '../tools/qemu-img.js';
import { settleAll } from '../plan/settle-all.js';
import { createPrivateFile } from '../storage/image-file.js';
import { setBtrfsUuid } from '../tools/btrfstune.js';
import { setExtUuid } from '../tools/tune2fs.js';
import { readExtFeatures, setExtUuidKeepingSeed } from '../tools/tune2fs-uuid.js';
import { setXfsUuid } from '../tools/xfs-admin.js';
import type { CloneDiskChange } from './clone-cfg.js';
import { applyCloneIdentity, type CloneIdentity, type CloneIdentityResult } from './clone-identity.js';
import type { GuestDisk } from './guest-files.js';
import { closeRawView, mountTree, openRawView, unmountTree, type RawView } from './image-access.js';
import { identityOf } from '../plan/run-journal.js';

/** One image of the clone. */
export interface ClonedDisk {
  source: string;
  path: string;
  format: string;
  vdev: string;
  /** What blkid found: ext4, xfs, btrfs, swap, or undefined. */
  fsType: string | undefined;
  oldUuid: string | undefined;
  newUuid: string | undefined;
  isRoot: boolean;
}

/** Copies (full) or overlays (linked) one source image; the undo removes what was made. */
export async function cloneImage(
  disk: GuestDisk,
  change: CloneDiskChange,
  linked: boolean,
  ctx: StepContext,
): Promise<ClonedDisk> {
  const target = change.target;
  const exec = { sink: ctx.sink, signal: ctx.signal };
  // Made 0600 (and never over an existing file) before the tool writes into it: qemu-img would
  // make it 0644 and cp copies a base image's 0400; the clone's image holds the guest's secrets.
  await createPrivateFile(target);
  // Registered before the tool runs: a cancelled cp leaves a partial file that must go too.
  const intent = ctx.undo.expect(`remove image ${target}`, { kind: 'file', path: target });
  ctx.undo.push(`remove image ${target}`, () => fs.rm(target, { force: true }), intent);
  if (linked) {
    // The format the cfg names, never a probe of the image: a raw guest disk can be made to look
    // like qcow2 (with a backing file of the attacker's choosing) by whoever ran inside it.
    await createOverlay(disk.path, change.from.format, target, exec);
  } else {
    await copyImage(disk.path, target, exec);
  }
  const made = await fs.stat(target);
  intent.made({ kind: 'file', path: target, ...identityOf(made) });
  return {
    source: disk.path,
    path: target,
    format: change.format,
    vdev: disk.config.vdev,
    fsType: undefined,
    oldUuid: undefined,
    newUuid: undefined,
    isRoot: false,
  };
}

export interface IdentifyCloneRequest extends Omit<CloneIdentity, 'mac' | 'uuids'> {
  /** Picks the MAC once the guest's release is known (xen-tools' derivation uses it). */
  chooseMac: (release: string | undefined) => string;
}

const GRUB_MARKERS = ['/boot/grub/grub.cfg', '/usr/lib/grub', '/boot/grub/i386-pc'];

/**
 * Opens every cloned image raw, gives swap and filesystems new UUIDs, and customizes the root
 * filesystem (the one holding /etc/fstab). Times are added to `timings` (ms).
 */
export async function identifyClone(
  disks: ClonedDisk[],
  request: IdentifyCloneRequest,
  ctx: StepContext,
  timings: Record<string, number>,
): Promise<CloneIdentityResult & { mac: string }> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const t = (key: string, started: number): void => {
    timings[key] = (timings[key] ?? 0) + Math.round(performance.now() - started);
  };
  let started = performance.now();
  // Every image is opened and probed at once: each is a qemu-storage-daemon start and a blkid.
  const views: RawView[] = await settleAll(disks.map((disk) => openRawView(disk.path, disk.format, ctx)));
  await settleAll(
    disks.map(async (disk, i) => {
      const found = await probeBlock(views[i]!.rawPath, { sink: ctx.sink });
      disk.fsType = found?.type;
      disk.oldUuid = found?.uuid;
      if (found?.uuid && (found.type === 'swap' || found.usage === 'filesystem')) disk.newUuid = randomUUID();
    }),
  );
  t('open', started);
  const uuids = new Map(disks.filter((d) => d.oldUuid && d.newUuid).map((d) => [d.oldUuid!, d.newUuid!]));

  // New swap signatures while the root filesystem is customized.
  const swaps = (async () => {
    const began = performance.now();
    await settleAll(
      disks.map(async (disk, i) => {
        if (disk.fsType === 'swap' && disk.newUuid)
          await makeSwapSignature(views[i]!.rawPath, disk.newUuid, undefined, exec);
      }),
    );
    t('swap', began);
  })();

  let result: (CloneIdentityResult & { mac: string }) | undefined;
  let hasGrub = false;
  started = performance.now();
  const customized = (async () => {
    for (const [i, disk] of disks.entries()) {
      if (result || !disk.newUuid || disk.fsType === 'swap') continue;
      const tree = await mountTree(views[i]!.rawPath, ctx, { fsType: disk.fsType });
      try {
        if (!existsSync(path.join(tree.dir, 'etc/fstab'))) continue;
        disk.isRoot = true;
        const release = readCodename(path.join(tree.dir, 'etc/os-release'));
        const mac = request.chooseMac(await release);
        const t0 = performance.now();
        const identity = await applyCloneIdentity(tree.dir, { ...request, mac, uuids }, ctx);
        timings['customize'] = Math.round(performance.now() - t0);
        hasGrub = GRUB_MARKERS.some((m) => existsSync(path.join(tree.dir, m)));
        result = { ...identity, mac };
      } finally {
        await unmountTree(tree, ctx);
      }
    }
  })();
  await settleAll([customized, swaps]);
  t('mount+customize', started);
  if (!result) {
    throw runtimeError(
      'E_CLONE_ROOT',
      `no image of the clone holds a root filesystem with /etc/fstab`,
      'clone works on guests made by xen-create-image (a filesystem per image, no partition table)',
    );
  }

  started = performance.now();
  await settleAll(
    disks.map(async (disk, i) => {
      if (!disk.newUuid || disk.fsType === 'swap' || !disk.fsType) return;
      await setUuid(disk.fsType, views[i]!.rawPath, disk.newUuid, hasGrub, exec);
      const after = await probeBlock(views[i]!.rawPath, { sink: ctx.sink });
      if (after?.uuid?.toLowerCase() !== disk.newUuid) {
        throw runtimeError(
          'E_CLONE_UUID',
          `${disk.path}: UUID is ${after?.uuid ?? 'gone'} after the change, not ${disk.newUuid}`,
          'report this as a bug',
        );
      }
    }),
  );
  t('uuid', started);
  started = performance.now();
  await Promise.all(views.map((view) => closeRawView(view, ctx)));
  t('close', started);
  return result;
}

async function readCodename(file: string): Promise<string | undefined> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return /^VERSION_CODENAME=["']?([A-Za-z0-9._-]+)/m.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * A new UUID for an unmounted filesystem. ext4 with metadata_csum keeps its checksum seed
 * (superblock only, ~10 ms); a guest that boots through GRUB (< 2.12 cannot read that feature)
 * gets a forced fsck and a full checksum rewrite instead.
 */
async function setUuid(
  fsType: string,
  device: string,
  uuid: string,
  hasGrub: boolean,
  exec: { sink: StepContext['sink']; signal: AbortSignal },
): Promise<void> {
  if (fsType.startsWith('ext')) {
    const features = await readExtFeatures(device, exec);
    if (features.includes('metadata_csum') && !hasGrub) return setExtUuidKeepingSeed(device, uuid, exec);
    if (features.includes('metadata_csum')) await checkExtFs(device, exec);
    return setExtUuid(device, uuid, exec);
  }
  if (fsType === 'xfs') return setXfsUuid(device, uuid, exec);
  if (fsType === 'btrfs') return setBtrfsUuid(device, uuid, exec);
  throw runtimeError(
    'E_CLONE_FS',
    `${device}: cannot give a ${fsType} filesystem a new UUID`,
    'clone supports ext2/3/4, xfs and btrfs',
  );
}
