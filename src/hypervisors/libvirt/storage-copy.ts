/**
 * Before a migration: does the destination see the guest's files (disks, kernel, initrd) at the
 * same paths, and if not, how they get there. A file is "seen" when a directory pool of the
 * destination over its directory (one it has, else a transient one made for the look) holds a
 * volume of that name and size. Disks it does not see are pre-created there, empty, with the
 * same size and format, and libvirt copies them during the migration (`--copy-storage-all`);
 * a kernel or initrd it does not see is uploaded (read here, or downloaded from the source's
 * pool). Everything made there is listed, to delete when the migration fails; a file of that
 * name but another size there, a block device, or a directory libvirt cannot make is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { parseVirshFields, runVirsh, type VirshOptions } from '../../tools/virsh.js';
import {
  createVirshDirPool,
  createVirshVolume,
  deleteVirshVolume,
  destroyVirshPool,
  downloadVirshVolume,
  listVirshPools,
  readVirshAvailableMemory,
  readVirshVolume,
  refreshVirshPool,
  uploadVirshVolume,
  type VirshVolumeInfo,
} from '../../tools/virsh-storage.js';

/** The host files a domain's XML names. */
export interface DomainFiles {
  disks: { path: string; format: 'raw' | 'qcow2' }[];
  boot: string[];
}

/** The file disks (with their format), kernel and initrd of a domain XML. */
export function domainFiles(xml: string): DomainFiles {
  const disks: DomainFiles['disks'] = [];
  for (const m of xml.matchAll(/<disk\b[^>]*>([\s\S]*?)<\/disk>/g)) {
    const body = m[1] ?? '';
    const file = /<source\s+(?:file|dev)=['"]([^'"]+)['"]/.exec(body)?.[1];
    if (file === undefined) continue;
    const type = /<driver\b[^>]*\btype=['"]([^'"]+)['"]/.exec(body)?.[1];
    disks.push({ path: unescape(file), format: type === 'qcow2' ? 'qcow2' : 'raw' });
  }
  const boot = [/<kernel>([^<]+)<\/kernel>/.exec(xml)?.[1], /<initrd>([^<]+)<\/initrd>/.exec(xml)?.[1]]
    .filter((f): f is string => f !== undefined)
    .map(unescape);
  return { disks, boot };
}

function unescape(text: string): string {
  return text
    .replace(/&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Where a file is on a host, as libvirt sees it. */
interface Located {
  pool: string;
  volume: VirshVolumeInfo | undefined;
}

/** What preparing the destination did, to finish or take back. */
export interface StorageCopy {
  /** Disks libvirt must copy (`--copy-storage-all`), by path; empty: shared storage. */
  copiedDisks: string[];
  /** Kernel/initrd files uploaded to the destination. */
  uploaded: string[];
  /** Disks both hosts were shown to share (a marker made by one seen by the other). */
  sharedDisks: string[];
  /** After a failed migration: deletes what was made there. Returns what could not be deleted. */
  undo(): Promise<string[]>;
  /** Drops the transient pools (files stay), whatever happened. */
  close(): Promise<void>;
}

/** A host and how it is named in messages. */
export interface Side {
  virsh: VirshOptions;
  label: string;
  /** Whether its files are this machine's files (a local URI). */
  isLocal: boolean;
}

/**
 * Checks the destination's memory, finds which of the guest's files it lacks, and makes the
 * missing ones there (see the module comment). Throws E_MIGRATE (exit 2) naming the host for a
 * destination that cannot take the guest; nothing is left made then.
 */
export async function prepareDestination(name: string, source: Side, dest: Side): Promise<StorageCopy> {
  const where = `host ${dest.label} (${dest.virsh.uri})`;
  const info = parseVirshFields((await runVirsh(['dominfo', name], source.virsh)).stdout);
  const needKiB = Number.parseInt(info['Max memory'] ?? '0', 10) || 0;
  const haveKiB = await readVirshAvailableMemory(dest.virsh);
  if (needKiB > haveKiB) {
    throw usageError(
      'E_MIGRATE',
      `${where} has ${Math.floor(haveKiB / 1024)} MiB of memory available; guest "${name}" needs ${Math.floor(needKiB / 1024)} MiB`,
      'free memory there, or choose another host; the guest still runs where it was',
    );
  }
  const files = domainFiles((await runVirsh(['dumpxml', name], source.virsh)).stdout);
  const pools = new Map<Side, Map<string, string>>();
  const transient: { side: Side; pool: string }[] = [];
  const made: { pool: string; volume: string }[] = [];
  const copiedDisks: string[] = [];
  const sharedDisks: string[] = [];
  const uploaded: string[] = [];
  const scratch: string[] = [];

  const locate = async (side: Side, file: string, build: boolean): Promise<Located | undefined> => {
    const dir = path.dirname(file);
    let byDir = pools.get(side);
    if (!byDir) {
      byDir = new Map();
      for (const pool of await listVirshPools(side.virsh))
        if (pool.active && pool.targetPath) byDir.set(pool.targetPath, pool.name);
      pools.set(side, byDir);
    }
    let pool = byDir.get(dir);
    if (pool === undefined) {
      const made = `xenkit-${randomBytes(4).toString('hex')}`;
      if (!(await createVirshDirPool(made, dir, build, side.virsh))) return undefined;
      transient.push({ side, pool: made });
      byDir.set(dir, made);
      pool = made;
    } else {
      await refreshVirshPool(pool, side.virsh);
    }
    return { pool, volume: await readVirshVolume(pool, path.basename(file), side.virsh) };
  };
  const close = async (): Promise<void> => {
    for (const { side, pool } of transient.splice(0))
      await destroyVirshPool(pool, side.virsh).catch(() => undefined);
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  };
  const undo = async (): Promise<string[]> => {
    const failed: string[] = [];
    for (const { pool, volume } of made.splice(0).reverse()) {
      await deleteVirshVolume(pool, volume, dest.virsh).catch((error: unknown) => {
        failed.push(
          `volume ${volume} of pool ${pool} on ${where}: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }
    return failed;
  };
  const refuse = (what: string, hint: string): never => {
    throw usageError('E_MIGRATE', `${where} ${what}`, `${hint}; the guest still runs on ${source.virsh.uri}`);
  };
  // Whether both hosts see one and the same directory: a marker volume made in it on the source
  // shows up in the destination's pool over it. A copy of the same size elsewhere (one a storage
  // copy left behind) does not pass for shared storage.
  const shared = new Map<string, boolean>();
  const isShared = async (dir: string, destPool: string): Promise<boolean> => {
    const known = shared.get(dir);
    if (known !== undefined) return known;
    const marker = `xenkit-shared-${randomBytes(6).toString('hex')}`;
    const here = await locate(source, path.join(dir, marker), false);
    if (!here) return false;
    await createVirshVolume(here.pool, marker, 0, 'raw', source.virsh);
    try {
      await refreshVirshPool(destPool, dest.virsh);
      const seen = (await readVirshVolume(destPool, marker, dest.virsh)) !== undefined;
      shared.set(dir, seen);
      return seen;
    } finally {
      await deleteVirshVolume(here.pool, marker, source.virsh).catch(() => undefined);
    }
  };
  const place = async (
    file: string,
    bytes: number,
    format: 'raw' | 'qcow2',
    checkShared: boolean,
  ): Promise<Located | undefined> => {
    let there = await locate(dest, file, false);
    if (there?.volume?.capacity === bytes) {
      if (!checkShared || (await isShared(path.dirname(file), there.pool))) return undefined;
      refuse(
        `has its own ${file}, not the one of ${source.label} (no shared storage): a stale copy?`,
        "it is not this migration's to replace: remove it there if it is one",
      );
    }
    if (there?.volume)
      refuse(
        `has a different ${file} (${there.volume.capacity} bytes, not ${bytes})`,
        "it is not this migration's to replace: move it away there",
      );
    there ??= await locate(dest, file, true);
    if (!there) refuse(`cannot make the directory ${path.dirname(file)} for ${file}`, 'make it there');
    const pool = (there as Located).pool;
    await createVirshVolume(pool, path.basename(file), bytes, format, dest.virsh);
    made.push({ pool, volume: path.basename(file) });
    return there;
  };

  try {
    for (const disk of files.disks) {
      if (disk.path.startsWith('/dev/') && !(await locate(dest, disk.path, false))) {
        refuse(
          `does not have the block device ${disk.path}`,
          'storage copy makes files only: give the guest a file disk, or make the device there',
        );
      }
      const blk = parseVirshFields((await runVirsh(['domblkinfo', name, disk.path], source.virsh)).stdout);
      const capacity = Number.parseInt(blk.Capacity ?? '0', 10);
      if (await place(disk.path, capacity, disk.format, true)) copiedDisks.push(disk.path);
      else sharedDisks.push(disk.path);
    }
    for (const file of files.boot) {
      let local = file;
      let bytes: number;
      if (source.isLocal) {
        bytes = statSync(file).size;
      } else {
        const here = await locate(source, file, false);
        if (!here?.volume)
          refuse(
            `cannot get ${file}: no pool of ${source.label} holds it`,
            'put it there at the same path first',
          );
        bytes = (here as Located).volume!.capacity;
        const dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-migrate-'));
        scratch.push(dir);
        local = path.join(dir, path.basename(file));
        await downloadVirshVolume((here as Located).pool, path.basename(file), local, source.virsh);
      }
      const there = await place(file, bytes, 'raw', false);
      if (!there) continue;
      await uploadVirshVolume(there.pool, path.basename(file), local, dest.virsh);
      uploaded.push(file);
    }
  } catch (error) {
    await undo();
    await close();
    throw error;
  }
  return { copiedDisks, uploaded, sharedDisks, undo, close };
}
