/**
 * Deleting a stopped guest, as xen-delete-image does: the autostart link, the domain config and
 * the image directory DIR/domains/NAME (with every image file the cfg names that no other guest
 * uses); the logical volumes of an LVM guest (`--lvm VG`: NAME-disk, NAME-swap; and every
 * /dev/VG/NAME-* the cfg names); also xenkit's record of an `--ip=auto` address. The creation log
 * stays, as in xen-tools. Transactional: everything (files and volumes) is first renamed aside
 * (undo renames it back) and only removed once the whole plan succeeded.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { releaseIp, usedStateFile } from '../config/ips-file.js';
import { runtimeError, usageError } from '../errors.js';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import { underRoot, type Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanAction, PlanStep, StepContext } from '../plan/plan.js';
import { setImmutable } from '../tools/chattr.js';
import { listVolumes, lvremoveArgv, removeVolume, renameVolume } from '../tools/lvm.js';
import { assertNotOpen, temporaryVolumeName } from '../storage/lvm.js';
import { existingVolumes, guestVolumeRefs } from '../storage/lvm-guest.js';
import {
  autostartPathOf,
  cfgPathOf,
  checkGuestName,
  guestDisksOf,
  isPresent,
  logPathOf,
  readGuest,
  type GuestFiles,
} from './guest-files.js';
import {
  backingFileOf,
  findLinkedClones,
  isQcow2File,
  listCfgFiles,
  readBaseMarks,
  unmarkBaseImages,
} from './linked-base.js';
import { refuseRunningGuest, type RunningCheckOptions } from './running.js';
import { identityOf } from '../plan/run-journal.js';

export interface DeleteOptions {
  /** `--dir`: the images are in DIR/domains/NAME (default: where the cfg's disks are). */
  dir: string | undefined;
  extension: string;
  /** `--lvm VG`: also remove /dev/VG/NAME-disk and NAME-swap (cfg or not). */
  lvm?: string | undefined;
  /** `dir`/`lvm` are xen-tools.conf defaults, not command-line orders: a missing VG is no error. */
  storageFromConf?: boolean;
  /** Delete a guest whose images back linked clones (they break). */
  force: boolean;
  running?: RunningCheckOptions;
}

/** One thing that goes. */
export interface Removal {
  path: string;
  kind: 'autostart' | 'config' | 'image' | 'directory' | 'volume';
  /** For a volume: its VG and LV name. */
  vg?: string;
  lv?: string;
}

/** What deleting one guest does. */
export interface DeleteTarget {
  name: string;
  removals: Removal[];
  /** Addresses given back to the `--ip=auto` pool. */
  addresses: string[];
  /** Base images (of another guest) that are no longer used by any clone once this one is gone. */
  unmarkBases: { cfgPath: string; images: string[] }[];
  /** Left in place on purpose (the log, as xen-tools does). */
  kept: string[];
}

/**
 * The DIR/domains/NAME directory of a guest: the one `--dir` names when it exists (xen-tools), else
 * the one the cfg's images are in; undefined when its images live elsewhere.
 */
export function guestDirOf(
  paths: Paths,
  name: string,
  guest: GuestFiles | undefined,
  dir: string | undefined,
): string | undefined {
  const given = dir ? path.join(underRoot(paths, dir), 'domains', name) : undefined;
  if (given && isPresent(given)) return given;
  const parent = guest?.disks[0] ? path.dirname(guest.disks[0].path) : undefined;
  if (parent && path.basename(parent) === name && path.basename(path.dirname(parent)) === 'domains')
    return parent;
  return given;
}

/** Image files named by other guests' cfgs (never removed with this one). */
function imagesOfOthers(paths: Paths, cfgPath: string): Set<string> {
  const used = new Set<string>();
  for (const file of listCfgFiles(paths.xenDir)) {
    if (file === cfgPath) continue;
    try {
      for (const d of guestDisksOf(paths, parseXlCfg(fs.readFileSync(file, 'utf8'), file))) used.add(d.path);
    } catch {
      // an unreadable cfg names nothing we could protect
    }
  }
  return used;
}

/** Works out what deleting `name` removes; refuses running guests and bases of linked clones. */
export async function inspectDelete(
  paths: Paths,
  rawName: string,
  options: DeleteOptions,
): Promise<DeleteTarget> {
  const name = checkGuestName(rawName);
  const cfgPath = cfgPathOf(paths, name, options.extension);
  const guest = isPresent(cfgPath) ? readGuest(paths, name, options.extension) : undefined;
  await refuseRunningGuest(name, paths, 'delete', options.running);
  const removals: Removal[] = [];
  const auto = autostartPathOf(paths, name, options.extension);
  if (isPresent(auto)) removals.push({ path: auto, kind: 'autostart' });
  if (guest) removals.push({ path: cfgPath, kind: 'config' });
  const guestDir = guestDirOf(paths, name, guest, options.dir);
  const others = imagesOfOthers(paths, cfgPath);
  for (const disk of guest?.disks ?? []) {
    if (!disk.isFile || others.has(disk.path)) continue;
    if (guestDir && disk.path.startsWith(guestDir + path.sep)) continue;
    removals.push({ path: disk.path, kind: 'image' });
  }
  if (guestDir && isPresent(guestDir)) removals.push({ path: guestDir, kind: 'directory' });
  removals.push(...(await volumeRemovals(paths, name, guest, options, others)));
  if (removals.length === 0) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": nothing to delete (no ${cfgPath}${guestDir ? `, no ${guestDir}` : ''})`,
      options.dir || options.lvm
        ? `check the name and ${options.lvm ? '--lvm' : '--dir'}`
        : 'check the name; give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG for volumes',
    );
  }
  const ownImages = (guest?.disks ?? []).filter((d) => d.isFile).map((d) => d.path);
  const clones = (await findLinkedClones(paths, ownImages)).filter((c) => c.name !== name);
  const cloneNames = [...new Set(clones.map((c) => c.name))];
  if (cloneNames.length > 0 && !options.force) {
    throw usageError(
      'E_HAS_CLONES',
      `guest "${name}": its images back the linked clone${cloneNames.length > 1 ? 's' : ''} ${cloneNames.join(', ')}; deleting it breaks them`,
      'delete the clones first, or pass --force to delete it anyway',
    );
  }
  return {
    name,
    removals,
    addresses: claimedAddresses(paths, name),
    unmarkBases: guest ? await basesFreedBy(paths, guest) : [],
    kept: isPresent(logPathOf(paths, name)) ? [logPathOf(paths, name)] : [],
  };
}

/** The guest's volumes that exist and no other guest's cfg names; refuses any that is open. */
async function volumeRemovals(
  paths: Paths,
  name: string,
  guest: GuestFiles | undefined,
  options: DeleteOptions,
  others: Set<string>,
): Promise<Removal[]> {
  const vg = options.lvm;
  const refs = guestVolumeRefs(
    name,
    vg,
    (guest?.disks ?? []).map((d) => d.config.target),
  );
  if (refs.length === 0) return [];
  const volumes = (await existingVolumes(refs, options.storageFromConf ? undefined : vg)).filter(
    (lv) => !others.has(lv.path) && !others.has(underRoot(paths, lv.path)),
  );
  volumes.forEach(assertNotOpen);
  return volumes.map((lv) => ({ path: lv.path, kind: 'volume', vg: lv.vg, lv: lv.name }));
}

/** Addresses the `--ip=auto` pool has recorded for `name`. */
function claimedAddresses(paths: Paths, name: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(usedStateFile(paths), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([address, owner]) => address && owner === name)
    .map(([address]) => address as string);
}

/** Bases (other guests' images) whose last linked clone is this guest. */
async function basesFreedBy(
  paths: Paths,
  guest: GuestFiles,
): Promise<{ cfgPath: string; images: string[] }[]> {
  const backings = new Set<string>();
  for (const disk of guest.disks) {
    if (!disk.isFile || !isQcow2File(disk.path)) continue;
    const backing = await backingFileOf(disk.path).catch(() => undefined);
    if (backing) backings.add(backing);
  }
  if (backings.size === 0) return [];
  const freed: { cfgPath: string; images: string[] }[] = [];
  for (const cfgPath of listCfgFiles(paths.xenDir)) {
    if (cfgPath === guest.cfgPath) continue;
    const marks = readBaseMarks(fs.readFileSync(cfgPath, 'utf8')).map((m) => m.image);
    if (!marks.some((m) => backings.has(m))) continue;
    const stillUsed = (await findLinkedClones(paths, marks)).filter((c) => c.cfgPath !== guest.cfgPath);
    if (stillUsed.length === 0) freed.push({ cfgPath, images: marks });
  }
  return freed;
}

/** The dry-run view of deleting `target`. */
export function describeDelete(target: DeleteTarget): PlanAction[] {
  return [
    ...target.removals.map((r): PlanAction =>
      r.kind === 'volume' && r.vg && r.lv
        ? { kind: 'run', argv: lvremoveArgv(r.vg, r.lv) }
        : { kind: 'remove', path: r.path },
    ),
    ...target.addresses.map((a): PlanAction => ({ kind: 'note', text: `release address ${a}` })),
    ...target.unmarkBases.map((b): PlanAction => ({
      kind: 'note',
      text: `no linked clone left: make ${b.images.join(', ')} writable again`,
    })),
    ...target.kept.map((k): PlanAction => ({ kind: 'note', text: `keep the log ${k}` })),
  ];
}

/** The plan that deletes every target: rename aside, then remove after the commit. */
export function buildDeletePlan(paths: Paths, targets: readonly DeleteTarget[]): Plan {
  const steps: PlanStep[] = targets.map((target) => ({
    id: `delete.${target.name}`,
    title: `Delete guest ${target.name}`,
    actions: describeDelete(target),
    run: async (ctx) => {
      await lockGuest(paths.lockDir, target.name, ctx);
      for (const removal of target.removals) {
        if (removal.kind === 'volume') {
          await putVolumeAside(removal, ctx);
          continue;
        }
        if (!isPresent(removal.path)) continue;
        await clearImmutable(removal.path);
        const aside = path.join(
          path.dirname(removal.path),
          `.${path.basename(removal.path)}.xenkit-deleted-${randomBytes(4).toString('hex')}`,
        );
        const was = fs.lstatSync(removal.path);
        const intent = ctx.undo.expect(`put back ${removal.path}`, {
          kind: 'rename',
          original: removal.path,
          aside,
          hadOriginal: true,
        });
        fs.renameSync(removal.path, aside);
        ctx.undo.push(`put back ${removal.path}`, () => fs.renameSync(aside, removal.path), intent);
        ctx.undo.afterCommit(
          `remove ${removal.path}`,
          () => fs.rmSync(aside, { recursive: true, force: true }),
          { kind: 'tree', path: aside, ...identityOf(was) },
        );
      }
      for (const address of target.addresses) {
        await releaseIp(paths, address);
        ctx.undo.push(`claim ${address} again`, () =>
          fs.appendFileSync(usedStateFile(paths), `${address} ${target.name}\n`),
        );
      }
      for (const base of target.unmarkBases)
        ctx.undo.afterCommit(`unmark ${base.cfgPath}`, () =>
          unmarkBaseImages(base.cfgPath).then(() => undefined),
        );
    },
  }));
  return { subject: `delete ${targets.map((t) => t.name).join(', ')}`, steps };
}

/** Renames a volume aside (undo: back), removed after the commit; refuses it if it got opened. */
async function putVolumeAside(removal: Removal, ctx: StepContext): Promise<void> {
  const { vg, lv } = removal;
  if (!vg || !lv) return;
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const current = (await listVolumes(vg, exec)).find((v) => v.name === lv);
  if (!current) return;
  assertNotOpen(current);
  const aside = temporaryVolumeName(lv, 'old');
  await renameVolume(vg, lv, aside, exec);
  ctx.undo.push(`put back ${removal.path}`, () => renameVolume(vg, aside, lv, { sink: ctx.sink }));
  ctx.undo.afterCommit(`remove ${removal.path}`, () => removeVolume(vg, aside, { sink: ctx.sink }));
}

/** Clears the immutable flag of a base image (or of every image in a directory) before removal. */
async function clearImmutable(target: string): Promise<void> {
  const stat = fs.lstatSync(target);
  const files = stat.isDirectory() ? fs.readdirSync(target).map((n) => path.join(target, n)) : [target];
  for (const file of files) {
    if (fs.lstatSync(file).isFile()) await setImmutable(file, false).catch(() => false);
  }
}
