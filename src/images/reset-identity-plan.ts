/**
 * `xenkit reset-identity NAME`: a stopped guest gets a new identity in place, by the code a clone
 * uses (clone-steps.ts): new SSH host keys, an empty machine-id (systemd makes a new one at the
 * next boot), a new random seed, new filesystem and swap UUIDs (fstab and the boot menu follow)
 * and a new random MAC in its cfg and network config. The work is done on sparse copies of the
 * images beside them, which replace the originals only at the end: a failure anywhere leaves the
 * guest exactly as it was.
 */
import fs from 'node:fs/promises';
import { runtimeError, usageError, XenkitError } from '../errors.js';
import { silentSink } from '../log/events.js';
import { randomXenMac } from '../model/mac.js';
import type { Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { UndoStack } from '../plan/undo-stack.js';
import { writeFileAtomically } from '../plan/write-file.js';
import { copyImageArgv } from '../tools/cp.js';
import { hostKeyPoolDir } from '../customize/host-key-pool.js';
import { startHostKeysAhead } from '../customize/identity.js';
import { readGuestFacts } from './audit-read.js';
import type { GuestFacts } from './audit-findings.js';
import { renderCloneCfg } from './clone-cfg.js';
import { cloneImage, identifyClone, type ClonedDisk } from './clone-steps.js';
import { readGuest } from './guest-files.js';
import { networkFromCfg } from './guest-network.js';
import { readBaseMarks } from './linked-base.js';
import { guestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

/** What changed, for the summary. */
export interface ResetOutcome {
  name: string;
  cfgPath: string;
  mac: { before: string | undefined; after: string };
  disks: ClonedDisk[];
  sshHostKeys: {
    before: GuestFacts['hostKeys'];
    after: { type: string; bits: number; fingerprint: string }[];
  };
  machineId: { before: string | undefined; after: string };
  uuidFiles: string[];
  timings: Record<string, number>;
}

const NEW_SUFFIX = '.xenkit-reset-new';
const OLD_SUFFIX = '.xenkit-reset-old';

/** Checks the guest (exists, stopped, image files, not a linked clone's base) and builds the plan. */
export async function buildResetIdentityPlan(
  paths: Paths,
  name: string,
  options: { running?: RunningCheckOptions } = {},
): Promise<{ plan: Plan; outcome: ResetOutcome }> {
  const guest = readGuest(paths, name);
  const identity = guestIdentity(name, guest);
  const refuseRunning = async (): Promise<void> => {
    try {
      await refuseRunningGuest(identity, paths, 'reset the identity of', options.running);
    } catch (error) {
      // Not a failure of the command: the guest is in the wrong state for it (exit 2, nothing done).
      if (error instanceof XenkitError && error.code === 'E_RUNNING')
        throw usageError(error.code, error.message, error.hint);
      throw error;
    }
  };
  await refuseRunning();
  const notFiles = guest.disks.filter((d) => !d.isFile);
  if (notFiles.length > 0) {
    throw usageError(
      'E_RESET_DISK',
      `guest "${name}": ${notFiles.map((d) => d.path).join(', ')} is not an image file`,
      'reset-identity works on image files (raw or qcow2); block devices and LVM volumes are not supported',
    );
  }
  if (readBaseMarks(guest.cfgText).length > 0) {
    throw usageError(
      'E_RESET_BASE',
      `guest "${name}": its images back linked clones and must not change`,
      `xenkit list-images shows the clones; delete them first, or clone ${name} and reset the clone`,
    );
  }
  const before = await readGuestFacts(guest, {
    undo: new UndoStack(),
    sink: silentSink,
    signal: new AbortController().signal,
  });
  const net = networkFromCfg(guest.config);
  const outcome: ResetOutcome = {
    name,
    cfgPath: guest.cfgPath,
    mac: { before: net.mac, after: randomXenMac() },
    disks: [],
    sshHostKeys: { before: before.hostKeys, after: [] },
    machineId: { before: before.machineId, after: '' },
    uuidFiles: [],
    timings: {},
  };
  const copies = guest.disks.map((d) => ({
    disk: d,
    fresh: `${d.path}${NEW_SUFFIX}`,
    old: `${d.path}${OLD_SUFFIX}`,
  }));
  const steps: PlanStep[] = [
    {
      id: 'reset.lock',
      title: `Lock guest ${name}`,
      actions: [{ kind: 'note', text: `take the lock of ${name}; check again that it is stopped` }],
      run: async (ctx) => {
        await lockGuest(paths.lockDir, name, ctx);
        await refuseRunning();
        startHostKeysAhead(name, ctx, hostKeyPoolDir(paths.cacheDir));
      },
    },
    {
      id: 'reset.copy',
      title: `Copy the images of ${name} to work on`,
      actions: copies.map((c) => ({ kind: 'run' as const, argv: copyImageArgv(c.disk.path, c.fresh) })),
      run: async (ctx) => {
        for (const c of copies) {
          const change = { from: c.disk.config, target: c.fresh, format: c.disk.config.format };
          outcome.disks.push(await cloneImage(c.disk, change, false, ctx));
        }
      },
    },
    {
      id: 'reset.identity',
      title: `Give the copies a new identity`,
      actions: [
        {
          kind: 'note',
          text: 'swap: mkswap -U NEW-UUID; filesystems: a new UUID each (fstab and menu.lst follow)',
        },
        {
          kind: 'note',
          text: 'root filesystem: new SSH host keys, empty machine-id, new random seed, network by the new MAC',
        },
        { kind: 'note', text: `MAC: ${outcome.mac.after} (random, Xen prefix)` },
      ],
      run: async (ctx) => {
        const result = await identifyClone(
          outcome.disks,
          {
            name,
            domain: undefined,
            // DHCP guests keep their mode; a static guest keeps its address (same machine).
            network: undefined,
            isSameMachine: true,
            chooseMac: () => outcome.mac.after,
          },
          ctx,
          outcome.timings,
        );
        outcome.sshHostKeys.after = result.sshHostKeys;
        outcome.uuidFiles = result.uuidFiles;
      },
    },
    {
      id: 'reset.config',
      title: `Write the new MAC into ${guest.cfgPath}`,
      actions: [{ kind: 'write', path: guest.cfgPath, mode: 0o644 }],
      run: async (ctx) => {
        const text = renderCloneCfg(guest.cfgText, guest.config.vifs[0]?.raw, {
          sourceName: name,
          name,
          disks: [],
          mac: outcome.mac.after,
          network: { mode: net.mode, addresses: net.addresses.map((a) => a.address) },
          note: `Identity reset by xenkit on ${new Date().toISOString()}.`,
        });
        await writeFileAtomically(guest.cfgPath, text, 0o644, ctx);
      },
    },
    {
      id: 'reset.swap',
      title: `Put the new images in place of the old ones`,
      actions: copies.flatMap((c) => [
        { kind: 'run' as const, argv: ['mv', c.disk.path, c.old] },
        { kind: 'run' as const, argv: ['mv', c.fresh, c.disk.path] },
      ]),
      run: async (ctx) => {
        for (const c of copies) await swapImage(c.disk.path, c.fresh, c.old, ctx);
      },
    },
  ];
  return { plan: { subject: `reset-identity ${name}`, steps }, outcome };
}

/** Moves `image` aside to `old` and `fresh` into its place; undone in reverse; `old` goes at commit. */
async function swapImage(image: string, fresh: string, old: string, ctx: StepContext): Promise<void> {
  try {
    await fs.lstat(old);
    throw runtimeError(
      'E_EXISTS',
      `${old} exists already`,
      'a reset-identity that was killed left it: look at it, then remove it',
    );
  } catch (error) {
    if (error instanceof XenkitError) throw error;
  }
  await fs.rename(image, old);
  ctx.undo.push(`move ${old} back to ${image}`, () => fs.rename(old, image));
  await fs.rename(fresh, image);
  ctx.undo.push(`move ${image} back to ${fresh}`, () => fs.rename(image, fresh));
  ctx.undo.afterCommit(`remove the old image ${old}`, () => fs.rm(old, { force: true }));
}
