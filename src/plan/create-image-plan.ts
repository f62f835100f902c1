/**
 * GuestSpec -> Plan for `xen-create-image`. The guest's root tree is built in a staging
 * directory, customized there, and only then written into the disk image by mkfs (no mount where
 * the filesystem allows it). Images are built under temporary names and renamed into place in the
 * last step, so an existing guest replaced with `--force` stays intact until the new one is whole.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { claimIp, releaseIp } from '../config/ips-file.js';
import { describeCustomizeSteps, customizeGuest, runFinalRoles } from '../customize/customize-guest.js';
import { hostKeyPoolDir } from '../customize/host-key-pool.js';
import { startHostKeysAhead } from '../customize/identity.js';
import type { GuestIds, SshHostKey } from '../customize/types.js';
import { renderGuestCfg } from '../formats/xl-cfg-render.js';
import { renderGuestCfgFromTemplate } from '../formats/xl-cfg-template.js';
import {
  describeInstall,
  installRootTree,
  releaseTarget,
  removeTree,
  type InstallResult,
} from '../install/index.js';
import {
  describeRootfsCacheInstall,
  finishCachedDisk,
  installWithRootfsCache,
  planRootfsCache,
} from '../install/rootfs-cache.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { Paths } from '../paths.js';
import {
  convertToQcow2,
  createImageFile,
  describeConvertToQcow2,
  describeCreateImageFile,
  describeMakeFilesystem,
  describeMakeSwap,
  discardImageFile,
  imageUndoDescription,
  makeFilesystem,
  makeSwap,
  prepareDevice,
  type ImageFile,
} from '../storage/index.js';
import { lvmCheckSteps, lvmCommitSteps, lvmImagePaths, lvmStorageSteps } from '../storage/lvm-steps.js';
import { lockGuest } from './guest-lock.js';
import type { Plan, PlanStep, StepContext } from './plan.js';
import { moveIntoPlace, writeFileAtomically } from './write-file.js';
import { identityOf } from './run-journal.js';

export interface CreateImageInputs {
  spec: GuestSpec;
  paths: Paths;
  /** crypt(3) hash of root's password, made by the CLI; never the password. */
  passwordHash: string | undefined;
}

/** What the run produced, read by the summary. */
export interface CreateImageOutcome {
  ids: GuestIds;
  install?: InstallResult;
  sshHostKeys: SshHostKey[];
  diskPath: string | undefined;
  swapPath: string | undefined;
  cfgPath: string;
  address: string | undefined;
}

/** Where the disk and swap images of a file-backed guest go (undefined for devices). */
export function imagePaths(spec: GuestSpec): { disk: string | undefined; swap: string | undefined } {
  if (spec.storage.kind === 'file') {
    return {
      disk: path.join(spec.storage.guestDir, 'disk.img'),
      swap: spec.swap ? path.join(spec.storage.guestDir, 'swap.img') : undefined,
    };
  }
  if (spec.storage.kind === 'device') return { disk: spec.storage.imageDev, swap: spec.storage.swapDev };
  return lvmImagePaths(spec);
}

/** Builds the plan; pure apart from choosing the new filesystem UUIDs. */
export function buildCreateImagePlan(inputs: CreateImageInputs): { plan: Plan; outcome: CreateImageOutcome } {
  const { spec, paths } = inputs;
  const ids: GuestIds = {
    rootUuid: randomUUID(),
    rootFs: spec.disk.fs,
    ...(spec.swap ? { swapUuid: randomUUID() } : {}),
    ...(inputs.passwordHash ? { passwordHash: inputs.passwordHash } : {}),
  };
  const images = imagePaths(spec);
  const outcome: CreateImageOutcome = {
    ids,
    sshHostKeys: [],
    diskPath: images.disk,
    swapPath: images.swap,
    cfgPath: spec.output.cfgPath,
    address: spec.network.addresses[0]?.address,
  };
  const stagingParent =
    spec.storage.kind === 'file' ? spec.storage.guestDir : path.join(paths.cacheDir, 'staging');
  const staging = path.join(stagingParent, `.xenkit-tree-${spec.hostname}-${randomBytes(4).toString('hex')}`);
  const isReplacing = spec.force;
  const steps: PlanStep[] = [];

  steps.push({
    id: 'guest.lock',
    title: `Lock guest ${spec.hostname}`,
    actions: [{ kind: 'note', text: `take ${path.join(paths.lockDir, `guest-${spec.hostname}.lock`)}` }],
    run: async (ctx) => {
      const lock = await lockGuest(paths.lockDir, spec.hostname, ctx);
      ctx.state.set('lock', lock);
      // RSA keygen (1-3 s) runs while the tree is installed or copied out of the cache.
      if (spec.install.enabled) startHostKeysAhead(spec.name, ctx, hostKeyPoolDir(paths.cacheDir));
      if (spec.network.autoIp) {
        const ipfile = path.join(paths.confDir, 'ips.txt');
        const claimed = await claimIp(paths, ipfile, spec.hostname);
        ctx.undo.push(`release address ${claimed.address}`, () => releaseIp(paths, claimed.address));
        outcome.address = claimed.address;
      }
    },
  });

  steps.push(...lvmCheckSteps(spec));

  steps.push({
    id: 'install.staging',
    title: 'Create the staging directory for the root tree',
    actions: [{ kind: 'mkdir', path: staging, mode: 0o755 }],
    run: async (ctx) => {
      await makeDirWithUndo(stagingParent, ctx);
      const description = `remove staging tree ${staging}`;
      const intent = ctx.undo.expect(description, { kind: 'tree', path: staging });
      await fs.mkdir(staging, { mode: 0o755 });
      const made = await fs.stat(staging);
      intent.made({ kind: 'tree', path: staging, ...identityOf(made) });
      ctx.undo.push(
        description,
        async () => {
          await releaseTarget(staging, ctx.sink);
          await removeTree(staging, { sink: ctx.sink });
        },
        intent,
      );
    },
  });

  const installRequest = {
    install: spec.install,
    target: staging,
    packages: fsToolPackages(spec.disk.fs),
    stepId: 'install.tree',
  };
  if (spec.install.enabled && spec.install.method !== 'none') {
    // The root-tree cache; in its image mode this step also makes the disk and mounts it on staging.
    const rootfs = planRootfsCache(
      spec,
      paths,
      images.disk ? { path: images.disk, overwrite: isReplacing, uuid: ids.rootUuid } : undefined,
    );
    steps.push({
      id: 'install.tree',
      title: `Install ${spec.install.dist} (${spec.install.method}${rootfs ? ', root-tree cache' : ''})`,
      actions: rootfs ? describeRootfsCacheInstall(installRequest, rootfs) : describeInstall(installRequest),
      run: async (ctx) => {
        outcome.install = rootfs
          ? await installWithRootfsCache(installRequest, rootfs, ctx)
          : await installRootTree(installRequest, ctx);
      },
    });
  }

  const customizeSteps = describeCustomizeSteps(spec, ids);
  steps.push({
    id: 'customize',
    title: `Customize the guest (${customizeSteps.map((s) => s.title).join(', ')})`,
    actions: customizeSteps.flatMap((s) => s.actions),
    run: async (ctx) => {
      const result = await customizeGuest(staging, spec, ids, ctx);
      outcome.sshHostKeys = result.sshHostKeys;
      if (spec.hooks.finalRoles.length > 0) await runFinalRoles(staging, spec, ctx);
    },
  });

  steps.push(
    ...(spec.storage.kind === 'lvm'
      ? lvmStorageSteps(spec, ids, staging)
      : storageSteps(spec, ids, staging, isReplacing)),
  );

  steps.push({
    id: 'install.cleanup',
    title: 'Remove the staging tree',
    actions: [{ kind: 'remove', path: staging }],
    run: async (ctx) => {
      await releaseTarget(staging, ctx.sink);
      // rm(1), not fs.rm: node's recursive removal of a guest tree was this run's RSS peak (+17 MB).
      await removeTree(staging, { sink: ctx.sink, signal: ctx.signal });
      // Gone with the tree: nothing inside it is left to restore or remove on a later failure.
      ctx.undo.release(`restore the files customized in ${staging}`);
      ctx.undo.release(`remove staging tree ${staging}`);
    },
  });

  steps.push({
    id: 'config.domain',
    title: `Write the domain config ${spec.output.cfgPath}`,
    actions: [
      {
        kind: 'write',
        path: spec.output.cfgPath,
        mode: 0o644,
        content: spec.output.template ? undefined : renderGuestCfg(spec),
      },
    ],
    run: async (ctx) => {
      const text = spec.output.template
        ? await renderGuestCfgFromTemplate(spec, spec.output.template, { signal: ctx.signal, sink: ctx.sink })
        : renderGuestCfg(spec);
      await makeDirWithUndo(path.dirname(spec.output.cfgPath), ctx);
      await writeFileAtomically(spec.output.cfgPath, text, 0o644, ctx);
    },
  });

  steps.push({
    id: 'storage.commit',
    title: 'Move the new images into place',
    actions: [{ kind: 'note', text: 'rename the finished images to their final names' }],
    run: async (ctx) => {
      for (const image of (ctx.state.get('images') as ImageFile[] | undefined) ?? []) {
        if (image.workPath === image.path) continue;
        // Not finishImageFile: an approved --force replacement must stay undoable until the end.
        await moveIntoPlace(image.workPath, image.path, ctx);
        ctx.undo.release(imageUndoDescription(image.workPath));
      }
    },
  });
  steps.push(...lvmCommitSteps(spec));

  return { plan: { subject: `guest ${spec.hostname}`, steps }, outcome };
}

function storageSteps(spec: GuestSpec, ids: GuestIds, staging: string, overwrite: boolean): PlanStep[] {
  const steps: PlanStep[] = [];
  const images = imagePaths(spec);
  const isFile = spec.storage.kind === 'file';
  const qcow2 = spec.storage.kind === 'file' && spec.storage.format === 'qcow2';
  const allocation = spec.storage.kind === 'file' ? spec.storage.allocation : 'full';
  const disk = images.disk as string;
  const remember = (ctx: StepContext, image: ImageFile): void => {
    const list = (ctx.state.get('images') as ImageFile[] | undefined) ?? [];
    list.push(image);
    ctx.state.set('images', list);
  };
  const fsOptions = {
    fs: spec.disk.fs,
    uuid: ids.rootUuid,
    label: spec.name.slice(0, 12),
    populateFrom: staging,
    mkfsCommand: spec.disk.mkfsCommand,
    sizeBytes: spec.disk.size,
    format: spec.disk.format,
  };
  steps.push({
    id: 'storage.disk',
    title: `Make the ${spec.disk.fs} disk ${disk}`,
    actions: [
      ...(isFile
        ? describeCreateImageFile({
            path: disk,
            size: spec.disk.size,
            allocation: qcow2 ? 'sparse' : allocation,
            overwrite,
          })
        : []),
      ...describeMakeFilesystem({ ...fsOptions, target: disk }),
      ...(qcow2
        ? describeConvertToQcow2({ source: `${disk}.raw`, target: disk, allocation, overwrite })
        : []),
    ],
    run: async (ctx) => {
      if (await finishCachedDisk(ctx, (image) => remember(ctx, image))) return;
      let target = disk;
      if (isFile) {
        const image = await createImageFile(
          {
            path: qcow2 ? rawWorkName(disk) : disk,
            size: spec.disk.size,
            allocation: qcow2 ? 'sparse' : allocation,
            overwrite,
          },
          ctx,
        );
        target = image.workPath;
        if (!qcow2) remember(ctx, image);
      } else {
        await prepareDevice(disk);
      }
      ctx.reporter.progress('storage.disk', 'writing the root tree into the filesystem');
      await makeFilesystem({ ...fsOptions, target }, ctx);
      if (qcow2) {
        await convertToQcow2({ source: target, target: disk, allocation, overwrite }, ctx);
        await discardImageFile(target, ctx);
      }
    },
  });
  if (spec.swap && images.swap) {
    const swap = images.swap;
    steps.push({
      id: 'storage.swap',
      title: `Make the swap ${swap}`,
      actions: [
        ...(isFile
          ? describeCreateImageFile({ path: swap, size: spec.swap.size, allocation, overwrite })
          : []),
        ...describeMakeSwap({ target: swap, uuid: ids.swapUuid }),
      ],
      run: async (ctx) => {
        let target = swap;
        if (isFile) {
          const image = await createImageFile(
            { path: swap, size: spec.swap!.size, allocation, overwrite },
            ctx,
          );
          target = image.workPath;
          remember(ctx, image);
        } else {
          await prepareDevice(swap);
        }
        await makeSwap({ target, uuid: ids.swapUuid }, ctx);
      },
    });
  }
  return steps;
}

function rawWorkName(disk: string): string {
  return path.join(
    path.dirname(disk),
    `.${path.basename(disk)}.xenkit-raw-${randomBytes(4).toString('hex')}`,
  );
}

/** Creates `dir` and its missing parents, registering removal (if still empty) of each one made. */
async function makeDirWithUndo(dir: string, ctx: StepContext): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      await fs.stat(d);
      break;
    } catch {
      missing.unshift(d);
      if (path.dirname(d) === d) break;
    }
  }
  for (const d of missing) {
    const description = `remove directory ${d} if empty`;
    const intent = ctx.undo.expect(description, { kind: 'dir', path: d });
    await fs.mkdir(d).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    ctx.undo.push(description, () => fs.rmdir(d).catch(() => undefined), intent);
  }
}

/** The guest needs its root filesystem's own tools: fsck at boot, growing the filesystem later. */
export function fsToolPackages(fs: GuestSpec['disk']['fs']): string[] {
  if (fs === 'xfs') return ['xfsprogs'];
  if (fs === 'btrfs') return ['btrfs-progs'];
  return ['e2fsprogs'];
}
