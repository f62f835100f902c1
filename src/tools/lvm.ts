/**
 * LVM2 (lvcreate, lvremove, lvextend, lvs, vgs) and blkdiscard: the volumes of LVM-backed guests.
 * Sizes go to LVM in bytes (`b` unit) and come back in bytes (`--units b --nosuffix`); LVM rounds
 * sizes up to whole extents, so callers read a volume's real size back after creating it.
 */
import { runCommand, type ExecOptions } from './exec.js';

/** One logical volume, as `lvs` reports it. */
export interface LogicalVolume {
  name: string;
  vg: string;
  sizeBytes: number;
  /** The thin pool of a thin volume, else undefined. */
  pool: string | undefined;
  /** `lv_attr`, e.g. `-wi-a-----` (char 6 is `o` while the volume is open). */
  attr: string;
  /** `/dev/VG/NAME`. */
  path: string;
}

/** One volume group, as `vgs` reports it. */
export interface VolumeGroup {
  name: string;
  sizeBytes: number;
  freeBytes: number;
  extentBytes: number;
}

/** What a new volume is: thick (linear) or thin in a pool of the same VG. */
export interface CreateVolumeOptions {
  vg: string;
  name: string;
  sizeBytes: number;
  thinPool?: string | undefined;
}

// --yes answers "wipe signature?" prompts; --wipesignatures y removes old filesystem/swap
// signatures, --zero y the first 4 KiB (thick only: a thin pool zeroes new blocks itself).
/** The argv that creates a volume. */
export function lvcreateArgv(options: CreateVolumeOptions): string[] {
  const size = `${options.sizeBytes}b`;
  if (options.thinPool) {
    return [
      'lvcreate',
      '--yes',
      '--wipesignatures',
      'y',
      '--virtualsize',
      size,
      '--thin',
      '--name',
      options.name,
      `${options.vg}/${options.thinPool}`,
    ];
  }
  return [
    'lvcreate',
    '--yes',
    '--wipesignatures',
    'y',
    '--zero',
    'y',
    '--size',
    size,
    '--name',
    options.name,
    options.vg,
  ];
}

/**
 * The argv that makes a snapshot `name` of `vg/origin`: a thick origin's snapshot gets
 * `sizeBytes` of copy-on-write room; a thin origin's is thin in the origin's pool (no size) and
 * is activated at once (thin snapshots are made with the activation-skip flag set).
 */
export function lvSnapshotArgv(vg: string, origin: string, name: string, sizeBytes?: number): string[] {
  return [
    'lvcreate',
    '--yes',
    '--snapshot',
    '--name',
    name,
    ...(sizeBytes === undefined
      ? ['--setactivationskip', 'n', '--activate', 'y']
      : ['--size', `${sizeBytes}b`]),
    `${vg}/${origin}`,
  ];
}

/** The argv that removes a volume without asking. */
export function lvremoveArgv(vg: string, name: string): string[] {
  return ['lvremove', '--yes', '--force', `${vg}/${name}`];
}

/** The argv that grows a volume to `sizeBytes` (the filesystem is grown separately). */
export function lvextendArgv(vg: string, name: string, sizeBytes: number): string[] {
  return ['lvextend', '--size', `${sizeBytes}b`, `${vg}/${name}`];
}

/** The argv that renames a volume inside its VG (works while closed; the data stays as it is). */
export function lvrenameArgv(vg: string, from: string, to: string): string[] {
  return ['lvrename', vg, from, to];
}

/** The argv that shrinks a volume back to `sizeBytes` (only ever to undo a grow before the fs grew). */
export function lvreduceArgv(vg: string, name: string, sizeBytes: number): string[] {
  return ['lvreduce', '--yes', '--force', '--size', `${sizeBytes}b`, `${vg}/${name}`];
}

/** The argv that lists the volumes of `vg` as JSON, sizes in bytes. */
export function lvsArgv(vg: string): string[] {
  return [
    'lvs',
    '--reportformat',
    'json',
    '--units',
    'b',
    '--nosuffix',
    '-o',
    'lv_name,vg_name,lv_size,pool_lv,lv_attr,lv_path',
    vg,
  ];
}

/** The argv that reports one volume group as JSON, sizes in bytes. */
export function vgsArgv(vg: string): string[] {
  return [
    'vgs',
    '--reportformat',
    'json',
    '--units',
    'b',
    '--nosuffix',
    '-o',
    'vg_name,vg_size,vg_free,vg_extent_size',
    vg,
  ];
}

/** The argv that zeroes a whole device in the kernel (WRITE ZEROES with unmap where supported). */
export function zeroDeviceArgv(device: string): string[] {
  return ['blkdiscard', '--zeroout', device];
}

type Report = { report?: { lv?: Record<string, string>[]; vg?: Record<string, string>[] }[] };

/** Parses `lvs --reportformat json --units b --nosuffix` output. */
export function parseLvsJson(text: string): LogicalVolume[] {
  const rows = (JSON.parse(text) as Report).report?.flatMap((r) => r.lv ?? []) ?? [];
  return rows.map((row) => ({
    name: row.lv_name ?? '',
    vg: row.vg_name ?? '',
    sizeBytes: Number(row.lv_size ?? 0),
    pool: row.pool_lv ? row.pool_lv : undefined,
    attr: row.lv_attr ?? '',
    path: row.lv_path || `/dev/${row.vg_name}/${row.lv_name}`,
  }));
}

/** Parses `vgs --reportformat json --units b --nosuffix` output. */
export function parseVgsJson(text: string): VolumeGroup[] {
  const rows = (JSON.parse(text) as Report).report?.flatMap((r) => r.vg ?? []) ?? [];
  return rows.map((row) => ({
    name: row.vg_name ?? '',
    sizeBytes: Number(row.vg_size ?? 0),
    freeBytes: Number(row.vg_free ?? 0),
    extentBytes: Number(row.vg_extent_size ?? 0),
  }));
}

/** Whether a volume is open (mounted, in use by a running domain, ...), from its `lv_attr`. */
export function isVolumeOpen(lv: LogicalVolume): boolean {
  return lv.attr.charAt(5) === 'o';
}

/** The volumes of `vg`; throws E_EXEC (from vgs/lvs) when the VG does not exist. */
export async function listVolumes(vg: string, options: ExecOptions = {}): Promise<LogicalVolume[]> {
  return parseLvsJson((await runCommand(lvsArgv(vg), options)).stdout);
}

/** The volume group `vg`, or undefined when LVM does not know it. */
export async function readVolumeGroup(
  vg: string,
  options: ExecOptions = {},
): Promise<VolumeGroup | undefined> {
  const result = await runCommand(vgsArgv(vg), { ...options, allowFailure: true });
  if (result.exitCode !== 0) return undefined;
  return parseVgsJson(result.stdout).find((g) => g.name === vg);
}

/** The logical volume at `device` (`/dev/VG/NAME`), or undefined when LVM knows none there. */
export async function readVolumeAt(
  device: string,
  options: ExecOptions = {},
): Promise<LogicalVolume | undefined> {
  const result = await runCommand(lvsArgv(device), { ...options, allowFailure: true });
  if (result.exitCode !== 0) return undefined;
  return parseLvsJson(result.stdout)[0];
}

/** Whether a snapshot overflowed its copy-on-write room (`lv_attr` char 5 `I`): its content is lost. */
export function isSnapshotInvalid(lv: LogicalVolume): boolean {
  return lv.attr.charAt(4) === 'I';
}

/** Makes a snapshot (lvSnapshotArgv). */
export async function createSnapshot(
  vg: string,
  origin: string,
  name: string,
  sizeBytes: number | undefined,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(lvSnapshotArgv(vg, origin, name, sizeBytes), options);
}

/** Creates a volume. */
export async function createVolume(volume: CreateVolumeOptions, options: ExecOptions = {}): Promise<void> {
  await runCommand(lvcreateArgv(volume), options);
}

/** Removes a volume. */
export async function removeVolume(vg: string, name: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(lvremoveArgv(vg, name), options);
}

/** Grows a volume to `sizeBytes`. */
export async function extendVolume(
  vg: string,
  name: string,
  sizeBytes: number,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(lvextendArgv(vg, name, sizeBytes), options);
}

/** Renames a volume inside `vg`. */
export async function renameVolume(
  vg: string,
  from: string,
  to: string,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(lvrenameArgv(vg, from, to), options);
}

/** Shrinks a volume back to `sizeBytes` (undo of a grow whose filesystem did not grow yet). */
export async function reduceVolume(
  vg: string,
  name: string,
  sizeBytes: number,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(lvreduceArgv(vg, name, sizeBytes), options);
}

/** Zeroes `device` with blkdiscard; returns false when the kernel or device cannot (caller falls back). */
export async function zeroDevice(device: string, options: ExecOptions = {}): Promise<boolean> {
  const result = await runCommand(zeroDeviceArgv(device), { ...options, allowFailure: true });
  if (result.exitCode === 0) return true;
  if (result.signal || options.signal?.aborted) await runCommand(zeroDeviceArgv(device), options);
  return false;
}
