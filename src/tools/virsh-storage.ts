/**
 * libvirt storage through virsh: pools (which directory each one is), volumes (create, upload,
 * download, delete, size) and the host's free memory. Used to put images on a remote host and to
 * copy a guest's storage along in a migration.
 */
import { runtimeError, usageError } from '../errors.js';
import { parseVirshFields, runVirsh, type VirshOptions } from './virsh.js';
import { settleAll } from '../plan/settle-all.js';

/** A storage pool of a host: its name, whether it runs, and the directory it is (dir pools). */
export interface VirshPool {
  name: string;
  active: boolean;
  /** `<target><path>` of the pool: for a dir pool, the directory holding its volumes. */
  targetPath: string | undefined;
}

/** Sizes of a volume, bytes. */
export interface VirshVolumeInfo {
  capacity: number;
  allocation: number;
}

/** `<target><path>` of a pool's XML. */
export function poolTargetPath(xml: string): string | undefined {
  const target = /<target>([\s\S]*?)<\/target>/.exec(xml)?.[1] ?? '';
  return /<path>\s*([^<]+?)\s*<\/path>/.exec(target)?.[1];
}

/** The pool called `name` with its directory; undefined when the host has none by that name. */
export async function readVirshPool(name: string, options: VirshOptions): Promise<VirshPool | undefined> {
  const info = await runVirsh(['pool-info', name], options, { allowFailure: true });
  if (info.exitCode !== 0) {
    if (/Storage pool not found|failed to get pool/i.test(info.stderr)) return undefined;
    await runVirsh(['pool-info', name], options);
  }
  const fields = parseVirshFields(info.stdout);
  const xml = (await runVirsh(['pool-dumpxml', name], options)).stdout;
  return { name, active: fields.State === 'running', targetPath: poolTargetPath(xml) };
}

/** Every pool of the host (running or not), with its directory. */
export async function listVirshPools(options: VirshOptions): Promise<VirshPool[]> {
  const names = (await runVirsh(['pool-list', '--all', '--name'], options)).stdout
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const pools = await settleAll(names.map((name) => readVirshPool(name, options)));
  return pools.filter((p): p is VirshPool => p !== undefined);
}

/**
 * `virsh pool-create-as NAME dir --target DIR`: a transient pool over a directory (gone again
 * with pool-destroy, the directory and its files stay). `build` makes the directory first.
 * Returns false when libvirt cannot open the directory there.
 */
export async function createVirshDirPool(
  name: string,
  dir: string,
  build: boolean,
  options: VirshOptions,
): Promise<boolean> {
  const args = ['pool-create-as', name, 'dir', '--target', dir, ...(build ? ['--build'] : [])];
  const result = await runVirsh(args, options, { allowFailure: true });
  if (result.exitCode === 0) return true;
  if (/cannot open directory|No such file or directory/i.test(result.stderr)) return false;
  await runVirsh(args, options);
  return false;
}

/** `virsh pool-destroy NAME` (a transient pool disappears; its files stay). */
export async function destroyVirshPool(name: string, options: VirshOptions): Promise<void> {
  await runVirsh(['pool-destroy', name], options);
}

/** `virsh pool-refresh NAME`: the pool rereads its directory. */
export async function refreshVirshPool(name: string, options: VirshOptions): Promise<void> {
  await runVirsh(['pool-refresh', name], options);
}

/** A volume's capacity and allocation; undefined when the pool has no volume by that name. */
export async function readVirshVolume(
  pool: string,
  volume: string,
  options: VirshOptions,
): Promise<VirshVolumeInfo | undefined> {
  const args = ['vol-info', '--pool', pool, volume, '--bytes'];
  const result = await runVirsh(args, options, { allowFailure: true });
  if (result.exitCode !== 0) {
    if (/Storage volume not found|failed to get vol/i.test(result.stderr)) return undefined;
    await runVirsh(args, options);
  }
  const fields = parseVirshFields(result.stdout);
  const bytes = (key: string): number => Number.parseInt(fields[key] ?? '0', 10);
  return { capacity: bytes('Capacity'), allocation: bytes('Allocation') };
}

/** `virsh vol-create-as POOL NAME BYTES --format FORMAT`: a new, empty volume. */
export async function createVirshVolume(
  pool: string,
  volume: string,
  bytes: number,
  format: 'raw' | 'qcow2',
  options: VirshOptions,
): Promise<void> {
  await runVirsh(['vol-create-as', pool, volume, `${bytes}b`, '--format', format], options);
}

/** `virsh vol-path --pool POOL NAME`: where the volume is on its host. */
export async function readVirshVolumePath(
  pool: string,
  volume: string,
  options: VirshOptions,
): Promise<string> {
  return (await runVirsh(['vol-path', '--pool', pool, volume], options)).stdout.trim();
}

/** `virsh vol-upload --sparse --pool POOL NAME FILE`: the file's bytes into the volume, holes kept. */
export async function uploadVirshVolume(
  pool: string,
  volume: string,
  file: string,
  options: VirshOptions,
): Promise<void> {
  await runVirsh(['vol-upload', '--sparse', '--pool', pool, volume, file], {
    ...options,
    timeoutMs: options.timeoutMs ?? 60 * 60_000,
  });
}

/** `virsh vol-download --sparse --pool POOL NAME FILE`. */
export async function downloadVirshVolume(
  pool: string,
  volume: string,
  file: string,
  options: VirshOptions,
): Promise<void> {
  await runVirsh(['vol-download', '--sparse', '--pool', pool, volume, file], {
    ...options,
    timeoutMs: options.timeoutMs ?? 60 * 60_000,
  });
}

/** `virsh vol-delete --pool POOL NAME`. */
export async function deleteVirshVolume(pool: string, volume: string, options: VirshOptions): Promise<void> {
  await runVirsh(['vol-delete', '--pool', pool, volume], options);
}

/** The memory a host can give a new guest, KiB: free plus page cache and buffers (`virsh nodememstats`). */
export async function readVirshAvailableMemory(options: VirshOptions): Promise<number> {
  const fields = parseVirshFields((await runVirsh(['nodememstats'], options)).stdout);
  const kib = (key: string): number => Number.parseInt(fields[key] ?? '0', 10) || 0;
  return kib('free') + kib('buffers') + kib('cached');
}

/** The pool of `name` on a host, running; E_POOL (exit 2) naming the host when it has none. */
export async function requireVirshPool(
  name: string,
  hostLabel: string,
  options: VirshOptions,
): Promise<VirshPool & { targetPath: string }> {
  const pool = await readVirshPool(name, options);
  if (!pool) {
    throw usageError(
      'E_POOL',
      `host ${hostLabel} (${options.uri}) has no storage pool "${name}"`,
      `name one with --pool (virsh --connect ${options.uri} pool-list --all), or define it there: virsh pool-define-as ${name} dir --target /var/lib/libvirt/images && virsh pool-start ${name}`,
    );
  }
  if (!pool.active || pool.targetPath === undefined) {
    throw runtimeError(
      'E_POOL',
      `storage pool "${name}" of host ${hostLabel} (${options.uri}) is ${pool.active ? 'not a directory pool' : 'not running'}`,
      `virsh --connect ${options.uri} pool-start ${name}`,
    );
  }
  return { ...pool, targetPath: pool.targetPath };
}
