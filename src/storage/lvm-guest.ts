/**
 * Finding an existing guest's logical volumes, for delete, update and resize: `NAME-disk` and
 * `NAME-swap` in the VG given with `--lvm` (xen-tools' names), and every `/dev/VG/NAME-*` the
 * guest's cfg names. Only volumes named after the guest qualify, so a cfg that points at some
 * other volume never gets that volume removed.
 */
import { usageError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { listVolumes, type LogicalVolume } from '../tools/lvm.js';
import { lvmVolumeNames } from './lvm.js';

/** A volume reference: VG and LV name. */
export interface VolumeRef {
  vg: string;
  name: string;
}

const DEV_RE = /^\/dev\/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)\/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$/;

/** `/dev/VG/LV` split into VG and LV; undefined for other paths (files, /dev/sdb, /dev/mapper/X). */
export function parseVolumePath(target: string): VolumeRef | undefined {
  const match = DEV_RE.exec(target);
  if (!match || match[1] === 'mapper' || match[1] === 'disk') return undefined;
  return { vg: match[1]!, name: match[2]! };
}

/** The candidate volumes of guest `name`: xen-tools' two names in `vg`, plus NAME-* ones the cfg names. */
export function guestVolumeRefs(
  name: string,
  vg: string | undefined,
  cfgTargets: readonly string[],
): VolumeRef[] {
  const names = lvmVolumeNames(name);
  const refs: VolumeRef[] = vg
    ? [
        { vg, name: names.disk },
        { vg, name: names.swap },
      ]
    : [];
  for (const target of cfgTargets) {
    const ref = parseVolumePath(target);
    if (!ref || !ref.name.startsWith(`${name}-`)) continue;
    if (!refs.some((r) => r.vg === ref.vg && r.name === ref.name)) refs.push(ref);
  }
  return refs;
}

/**
 * The volumes among `refs` that exist. A VG given on the command line (`requiredVg`) must exist;
 * a VG only named in the cfg may be gone (its volumes then simply do not exist any more).
 */
export async function existingVolumes(
  refs: readonly VolumeRef[],
  requiredVg: string | undefined,
  options: { sink?: EventSink; signal?: AbortSignal } = {},
): Promise<LogicalVolume[]> {
  const found: LogicalVolume[] = [];
  for (const vg of [...new Set(refs.map((r) => r.vg))]) {
    let all: LogicalVolume[];
    try {
      all = await listVolumes(vg, options);
    } catch (error) {
      if (vg !== requiredVg) continue;
      throw usageError(
        'E_LVM_NO_VG',
        `--lvm ${vg}: volume group "${vg}" does not exist`,
        'list the volume groups with: vgs',
        error,
      );
    }
    for (const ref of refs.filter((r) => r.vg === vg)) {
      const lv = all.find((v) => v.name === ref.name);
      if (lv) found.push(lv);
    }
  }
  return found;
}
