/**
 * GuestSpec -> Plan for `xen-create-image`. The guest's root tree is built in a staging
 * directory, customized there, and only then written into the disk image by mkfs (no mount where
 * the filesystem allows it). Images are built under temporary names and renamed into place in the
 * last step, so an existing guest replaced with `--force` stays intact until the new one is whole.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { claimIp, releaseIp, type PoolAddress } from '../config/ips-file.js';
import {
  customizeGuest,
  describeAptLists,
  describeCustomizeSteps,
  describeRoles,
  runFinalRoles,
} from '../customize/customize-guest.js';
import { hostKeyPoolDir } from '../customize/host-key-pool.js';
import { startHostKeysAhead } from '../customize/identity.js';
import type { GuestIds, SshHostKey } from '../customize/types.js';
import { renderGuestCfg } from '../formats/xl-cfg-render.js';
import { renderGuestCfgFromTemplate } from './guest-cfg-template.js';
import { fileSpaceCheckSteps, imagePaths, rememberedImages, storageSteps } from './create-image-storage.js';
import { kernelAheadSteps } from './create-image-kernel.js';
import { describeInstall, installRootTree } from '../install/install-root-tree.js';
import { releaseTarget } from '../install/target-guard.js';
import { removeTree } from '../install/remove-tree.js';
import {
  chooseStaging,
  memoryStagingDir,
  mountStagingArgv,
  mountStagingTmpfs,
} from '../install/staging-memory.js';
import { type InstallResult } from '../install/install-request.js';
import {
  describeRootfsCacheInstall,
  installWithRootfsCache,
  planRootfsCache,
} from '../install/rootfs-cache.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { listGuestSwaps } from '../model/guest-volumes.js';
import type { Paths } from '../paths.js';
import { imageUndoDescription, makeParents } from '../storage/image-file.js';
import { describeSplitTree, splitTree, splitUndoDescription } from '../storage/tree-split.js';
import { lvmCheckSteps, lvmCommitSteps, lvmStorageSteps } from '../storage/lvm-steps.js';
import { lockGuest } from '../plan/guest-lock.js';
import { addHostsLine, hostHostsPath, hostsLineFor, removeHostsLines } from './host-hosts.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { identityOf } from '../plan/run-journal.js';
import type { DebrisIntent } from '../plan/undo-stack.js';
import { moveIntoPlace, writeFileAtomically } from '../plan/write-file.js';

export interface CreateImageInputs {
  spec: GuestSpec;
  paths: Paths;
  /** crypt(3) hash of root's password, made by the CLI; never the password. */
  passwordHash: string | undefined;
  /** With `--force`: throws when the guest being replaced runs; asked under the guest's lock. */
  refuseIfRunning?: () => Promise<void>;
  /** The host's MemAvailable in bytes, read by the CLI: whether the tree may be staged in memory. */
  memAvailable?: number;
  /**
   * The QEMU driver's cache of PVH kernels, when this host boots its guests under TCG (read by
   * the CLI): the guest's kernel is unpacked into it while the images are written, so that its
   * first boot does not wait for that.
   */
  pvhKernelCache?: string;
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
  /** What went wrong without failing the build (hooks and roles), for the summary. */
  warnings: string[];
}

/** Builds the plan; pure apart from choosing the new filesystem UUIDs. */
export function buildCreateImagePlan(inputs: CreateImageInputs): { plan: Plan; outcome: CreateImageOutcome } {
  const { spec, paths } = inputs;
  const ids: GuestIds = {
    rootUuid: randomUUID(),
    rootFs: spec.disk.fs,
    ...(spec.swap ? { swapUuid: randomUUID() } : {}),
    ...(spec.volumes?.length || spec.extraSwaps?.length
      ? {
          volumeUuids: Object.fromEntries(
            [...(spec.volumes ?? []), ...listGuestSwaps(spec).slice(1)].map((v) => [v.name, randomUUID()]),
          ),
        }
      : {}),
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
    warnings: [],
  };
  const stagingParent =
    spec.storage.kind === 'file' ? spec.storage.guestDir : path.join(paths.cacheDir, 'staging');
  // The tree sits one level down in a 0700 directory: the installer gives the tree's own root mode
  // 0755, and no other user may reach the guest's keys, hash or setuid programs meanwhile.
  const stagingBox = path.join(
    stagingParent,
    `.xenkit-tree-${spec.hostname}-${randomBytes(4).toString('hex')}`,
  );
  const isReplacing = spec.force;
  const installs = spec.install.enabled && spec.install.method !== 'none';
  // The root-tree cache; in its image mode the install step also makes the disk and mounts it on staging.
  const rootfs = installs
    ? planRootfsCache(
        spec,
        paths,
        images.disk ? { path: images.disk, overwrite: isReplacing, uuid: ids.rootUuid } : undefined,
      )
    : undefined;
  const place = chooseStaging({
    choice: installs ? (spec.install.staging ?? 'auto') : 'disk',
    method: spec.install.method,
    intoImage: rootfs?.disk !== undefined,
    filesystemBytes: spec.disk.size + (spec.volumes ?? []).reduce((sum, v) => sum + v.size, 0),
    memAvailable: inputs.memAvailable,
  });
  const tmpfsDir = memoryStagingDir(stagingBox);
  const staging = path.join(place.inMemory ? tmpfsDir : stagingBox, 'root');
  const steps: PlanStep[] = [];

  steps.push({
    id: 'guest.lock',
    title: `Lock guest ${spec.hostname}`,
    actions: [{ kind: 'note', text: `take ${path.join(paths.lockDir, `guest-${spec.hostname}.lock`)}` }],
    run: async (ctx) => {
      await lockGuest(paths.lockDir, spec.hostname, ctx);
      if (isReplacing) await inputs.refuseIfRunning?.();
      // RSA keygen (1-3 s) runs while the tree is installed or copied out of the cache.
      if (spec.install.enabled) startHostKeysAhead(spec.name, ctx, hostKeyPoolDir(paths.cacheDir));
      if (spec.network.autoIp) await claimAutoAddress(spec, paths, ctx, outcome);
    },
  });

  steps.push(...lvmCheckSteps(spec), ...fileSpaceCheckSteps(spec));

  steps.push({
    id: 'install.staging',
    title: 'Create the staging directory for the root tree',
    actions: [
      { kind: 'mkdir', path: stagingBox, mode: 0o700 },
      ...(place.inMemory
        ? ([
            { kind: 'mkdir', path: tmpfsDir, mode: 0o700 },
            { kind: 'run', argv: mountStagingArgv(tmpfsDir, place.sizeBytes) },
          ] as const)
        : []),
      { kind: 'mkdir', path: staging, mode: 0o755 },
      {
        kind: 'note',
        text: `the tree is staged ${place.inMemory ? 'in memory' : 'on disk'}: ${place.reason}`,
      },
    ],
    run: async (ctx) => {
      await makeParents(stagingParent, ctx);
      const description = `remove staging tree ${stagingBox}`;
      const intent = ctx.undo.expect(description, { kind: 'tree', path: stagingBox });
      await fs.mkdir(stagingBox, { mode: 0o700 });
      const made = await fs.stat(stagingBox);
      intent.made({ kind: 'tree', path: stagingBox, ...identityOf(made) });
      ctx.undo.push(
        description,
        async () => {
          await releaseTarget(stagingBox, ctx.sink);
          await removeTree(stagingBox, { sink: ctx.sink });
        },
        intent,
      );
      await fs.chmod(stagingBox, 0o700);
      if (place.inMemory) {
        await fs.mkdir(tmpfsDir, { mode: 0o700 });
        await mountStagingTmpfs(tmpfsDir, place.sizeBytes, { sink: ctx.sink });
      }
      await fs.mkdir(staging, { mode: 0o755 });
    },
  });

  const installRequest = {
    install: spec.install,
    target: staging,
    packages: [...new Set([spec.disk.fs, ...(spec.volumes ?? []).map((v) => v.fs)].flatMap(fsToolPackages))],
    stepId: 'install.tree',
  };
  if (installs) {
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
  // --install=0 leaves the filesystem empty, as xen-tools does: nothing to customize.
  if (spec.install.enabled)
    steps.push({
      id: 'customize',
      title: `Customize the guest (${customizeSteps.map((s) => s.title).join(', ')})`,
      actions: customizeSteps.flatMap((s) => s.actions),
      run: async (ctx) => {
        const result = await customizeGuest(staging, spec, ids, ctx);
        outcome.sshHostKeys = result.sshHostKeys;
        outcome.warnings.push(...result.warnings);
      },
    });

  // The domain config is written before the tree becomes the image, so that --finalrole runs
  // where xen-tools runs it (the config exists) and still changes what goes into the image.
  steps.push(configStep(spec));
  if (spec.install.enabled && spec.hooks.finalRoles.length > 0)
    steps.push({
      id: 'customize.finalrole',
      title: `Run the final roles (${spec.hooks.finalRoles.join(', ')}) with the domain config in place`,
      actions: [...describeAptLists(), ...describeRoles(spec, spec.hooks.finalRoles)],
      run: async (ctx) => {
        outcome.warnings.push(...(await runFinalRoles(staging, spec, ctx)));
      },
    });

  const kernelAhead = inputs.pvhKernelCache
    ? kernelAheadSteps(spec, staging, inputs.pvhKernelCache)
    : undefined;
  if (kernelAhead) steps.push(kernelAhead.start);

  const volumes = spec.volumes ?? [];
  if (volumes.length > 0)
    steps.push({
      id: 'storage.split',
      title: `Split the tree at ${volumes.map((v) => v.mountpoint).join(', ')}: one filesystem each`,
      actions: describeSplitTree(staging, volumes),
      run: (ctx) => splitTree(staging, volumes, ctx),
    });
  steps.push(
    ...(spec.storage.kind === 'lvm'
      ? lvmStorageSteps(spec, ids, staging)
      : storageSteps(spec, ids, staging, isReplacing)),
  );

  steps.push({
    id: 'install.cleanup',
    title: 'Remove the staging tree',
    actions: [{ kind: 'remove', path: stagingBox }],
    run: async (ctx) => {
      await releaseTarget(stagingBox, ctx.sink);
      // rm(1), not fs.rm: node's recursive removal of a guest tree was this run's RSS peak (+17 MB).
      await removeTree(stagingBox, { sink: ctx.sink, signal: ctx.signal });
      // Gone with the tree: nothing inside it is left to restore or remove on a later failure.
      ctx.undo.release(`restore the files customized in ${staging}`);
      if (volumes.length > 0) ctx.undo.release(splitUndoDescription(staging));
      ctx.undo.release(`remove staging tree ${stagingBox}`);
    },
  });

  if (kernelAhead) steps.push(kernelAhead.finish);
  steps.push({
    id: 'storage.commit',
    title: 'Move the new images into place',
    actions: [{ kind: 'note', text: 'rename the finished images to their final names' }],
    run: async (ctx) => {
      for (const image of rememberedImages(ctx)) {
        if (image.workPath === image.path) continue;
        // Not finishImageFile: an approved --force replacement must stay undoable until the end.
        await moveIntoPlace(image.workPath, image.path, ctx);
        ctx.undo.release(imageUndoDescription(image.workPath));
      }
    },
  });
  steps.push(...lvmCommitSteps(spec));

  const hostsLine = spec.updateHostHosts ? hostsLineFor(spec) : undefined;
  if (hostsLine !== undefined)
    steps.push({
      id: 'host.hosts',
      title: `Add ${spec.hostname} to the host's /etc/hosts`,
      actions: [
        {
          kind: 'note',
          text: `append "${hostsLine}" to ${hostHostsPath(paths)} unless a line names ${spec.hostname} already (--nohosts: not at all)`,
        },
      ],
      run: async (ctx) => {
        const { added, created } = await addHostsLine(paths, spec.hostname, hostsLine);
        if (added)
          ctx.undo.push(`remove ${spec.hostname} from ${hostHostsPath(paths)}`, () =>
            removeHostsLines(paths, spec.hostname, created).then(() => undefined),
          );
        else
          ctx.sink({
            type: 'info',
            message: `${hostHostsPath(paths)} names ${spec.hostname} already: left as it is`,
          });
      },
    });

  return { plan: { subject: `guest ${spec.hostname}`, steps }, outcome };
}

/** Writes the domain config (from the built-in renderer or the user's --template). */
function configStep(spec: GuestSpec): PlanStep {
  return {
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
      await makeParents(path.dirname(spec.output.cfgPath), ctx);
      await writeFileAtomically(spec.output.cfgPath, text, 0o644, ctx);
    },
  };
}

/**
 * Claims the `--ip=auto` address under the pool's lock: the one validation showed if it is still
 * free, else the next free one (another run took it meanwhile). The spec then holds the claimed
 * address, so the network config, hosts file and domain config written later name the address
 * the summary shows.
 */
async function claimAutoAddress(
  spec: GuestSpec,
  paths: Paths,
  ctx: StepContext,
  outcome: CreateImageOutcome,
): Promise<void> {
  const index = spec.network.addresses.findIndex((a) => a.pool !== undefined);
  const picked = spec.network.addresses[index];
  const ipfile = picked?.pool ?? path.join(paths.confDir, 'ips.txt');
  // Journaled under the pool's lock before the claim is written: a run killed outright gives it back.
  let intent: DebrisIntent | undefined;
  const journalClaim = (address: string): void => {
    intent = ctx.undo.expect(`release address ${address}`, {
      kind: 'ip-claim',
      address,
      name: spec.hostname,
    });
  };
  let claimed: PoolAddress;
  try {
    claimed = await claimIp(
      paths,
      ipfile,
      spec.hostname,
      path.dirname(spec.output.cfgPath),
      picked?.address,
      journalClaim,
    );
  } catch (error) {
    intent?.cancel();
    throw error;
  }
  ctx.undo.push(
    `release address ${claimed.address}`,
    async () => {
      await releaseIp(paths, claimed.address);
    },
    intent,
  );
  if (picked && picked.address !== claimed.address) {
    ctx.sink({
      type: 'info',
      message: `--ip=auto: ${picked.address} was taken by another run meanwhile; this guest gets ${claimed.address}`,
    });
    // A prefix from the pool's range wins; else the one validation chose (--netmask or default).
    spec.network.addresses[index] = {
      ...picked,
      address: claimed.address,
      prefix: claimed.prefix ?? picked.prefix,
    };
  }
  outcome.address = claimed.address;
}

/** The guest needs its root filesystem's own tools: fsck at boot, growing the filesystem later. */
export function fsToolPackages(fs: GuestSpec['disk']['fs']): string[] {
  if (fs === 'xfs') return ['xfsprogs'];
  if (fs === 'btrfs') return ['btrfs-progs'];
  return ['e2fsprogs'];
}
