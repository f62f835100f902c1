/**
 * Deleting a stopped guest, as xen-delete-image does, and only what xenkit can prove it made: the
 * autostart link, the domain config, the guest's own directory DIR/domains/NAME with what is in
 * it, the logical volumes named for the guest (`--lvm VG`: NAME-disk, NAME-swap; and every
 * /dev/VG/NAME-* the cfg names), and xenkit's record of an `--ip=auto` address. A disk line that
 * points anywhere else (a shared data image, /etc/passwd, a path climbing out of the root, a
 * symlink into another guest's directory) is reported as kept and left alone; so is the creation
 * log, as in xen-tools. A guest that runs, under any name or driver or by a process holding its
 * images, is refused. Transactional: everything (files and volumes) is first renamed aside (undo
 * renames it back) and only removed once the whole plan succeeded.
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
import { assertGuestName } from '../model/guest-name.js';
import {
  autostartPathOf,
  cfgPathOf,
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
import { guestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';
import { identityOf } from '../plan/run-journal.js';
import { guestDirOf, refuseSharedImages, whyDiskKept } from './delete-ownership.js';
import { hostHostsPath, ownLines, removeHostsLines } from './host-hosts.js';

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
  kind: 'autostart' | 'config' | 'directory' | 'volume';
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
  /** The lines xen-create-image added for the guest to the host's /etc/hosts (and only those). */
  hostsLines: string[];
  /** Left in place on purpose: the log (as xen-tools does), and every disk that is not provably xenkit's. */
  kept: Kept[];
}

/** Something of the guest's that delete leaves alone, and why. */
export interface Kept {
  path: string;
  kind: 'log' | 'disk';
  why: string;
}

/** Images (files and volumes) named by other guests' cfgs, each with that guest's name. */
function imagesOfOthers(paths: Paths, cfgPath: string): Map<string, string> {
  const used = new Map<string, string>();
  for (const file of listCfgFiles(paths.xenDir)) {
    if (file === cfgPath) continue;
    try {
      const config = parseXlCfg(fs.readFileSync(file, 'utf8'), file);
      for (const d of guestDisksOf(paths, config)) used.set(d.path, config.name);
    } catch {
      // an unreadable cfg names nothing we could protect
    }
  }
  return used;
}

/**
 * Works out what deleting `name` removes and what it keeps; refuses a running guest, a directory
 * holding another guest's image, and the base of linked clones.
 */
export async function inspectDelete(
  paths: Paths,
  rawName: string,
  options: DeleteOptions,
): Promise<DeleteTarget> {
  const name = assertGuestName(rawName, 'command line');
  const cfgPath = cfgPathOf(paths, name, options.extension);
  const guest = isPresent(cfgPath) ? readGuest(paths, name, options.extension) : undefined;
  const removals: Removal[] = [];
  const auto = autostartPathOf(paths, name, options.extension);
  if (isPresent(auto)) removals.push({ path: auto, kind: 'autostart' });
  if (guest) removals.push({ path: cfgPath, kind: 'config' });
  const guestDir = guestDirOf(
    paths,
    name,
    (guest?.disks ?? []).map((d) => d.path),
    options.dir,
  );
  const others = imagesOfOthers(paths, cfgPath);
  if (guestDir.real !== undefined) removals.push({ path: guestDir.path, kind: 'directory' });
  const volumes = await volumeRemovals(paths, name, guest, options, others);
  removals.push(...volumes);
  if (removals.length === 0) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": nothing to delete (no ${cfgPath}${guestDir.path ? `, no ${guestDir.path}` : ''})`,
      options.dir || options.lvm
        ? `check the name and ${options.lvm ? '--lvm' : '--dir'}`
        : 'check the name; give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG for volumes',
    );
  }
  const kept: Kept[] = [];
  for (const disk of guest?.disks ?? []) {
    const isVolume = volumes.some((v) => v.path === disk.config.target || v.path === disk.path);
    const why = isVolume ? undefined : whyDiskKept(disk, guestDir);
    if (why !== undefined && !kept.some((k) => k.path === disk.path))
      kept.push({ path: disk.path, kind: 'disk', why });
  }
  const inDir = guestDir.real !== undefined ? filesIn(guestDir.real) : [];
  await refuseRunningGuest(
    guestIdentity(name, guest, [...inDir, ...volumes.map((v) => v.path)]),
    paths,
    'delete',
    options.running,
  );
  if (guestDir.real !== undefined && !options.force) refuseSharedImages(name, guestDir, others);
  const ownImages = (guest?.disks ?? [])
    .filter((d) => d.isFile && !kept.some((k) => k.path === d.path))
    .map((d) => d.path);
  const clones = (await findLinkedClones(paths, ownImages)).filter((c) => c.name !== name);
  const cloneNames = [...new Set(clones.map((c) => c.name))];
  if (cloneNames.length > 0 && !options.force) {
    throw usageError(
      'E_HAS_CLONES',
      `guest "${name}": its images back the linked clone${cloneNames.length > 1 ? 's' : ''} ${cloneNames.join(', ')}; deleting it breaks them`,
      'delete the clones first, or pass --force to delete it anyway',
    );
  }
  const log = logPathOf(paths, name);
  if (isPresent(log)) kept.push({ path: log, kind: 'log', why: 'the creation log stays, as in xen-tools' });
  return {
    name,
    removals,
    addresses: claimedAddresses(paths, name),
    unmarkBases: guest ? await basesFreedBy(paths, guest) : [],
    hostsLines: ownHostsLines(paths, name),
    kept,
  };
}

/** The lines of the host's /etc/hosts that xenkit added for `name`. */
function ownHostsLines(paths: Paths, name: string): string[] {
  try {
    return ownLines(fs.readFileSync(hostHostsPath(paths), 'utf8'), name);
  } catch {
    return [];
  }
}

/** The regular files directly in `dir` (what a running guest of it would hold). */
function filesIn(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(dir, e.name));
}

/** The guest's volumes that exist and no other guest's cfg names; refuses any that is open. */
async function volumeRemovals(
  paths: Paths,
  name: string,
  guest: GuestFiles | undefined,
  options: DeleteOptions,
  others: ReadonlyMap<string, string>,
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
    ...target.hostsLines.map((l): PlanAction => ({
      kind: 'note',
      text: `remove the line "${l}" from /etc/hosts`,
    })),
    ...target.kept.map((k): PlanAction => ({ kind: 'note', text: `keep ${k.path}: ${k.why}` })),
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
        if (removal.kind === 'directory' && !fs.lstatSync(removal.path).isDirectory()) {
          throw runtimeError(
            'E_CHANGED',
            `guest "${target.name}": ${removal.path} is no longer a directory (replaced since it was checked)`,
            'look at what is there now, then run the delete again',
          );
        }
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
      if (target.hostsLines.length > 0)
        ctx.undo.afterCommit(`remove ${target.name} from ${hostHostsPath(paths)}`, () =>
          removeHostsLines(paths, target.name).then(() => undefined),
        );
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
