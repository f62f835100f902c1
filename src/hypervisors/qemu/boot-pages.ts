/**
 * Hands back the host memory QEMU keeps for a guest's kernel and initrd once the guest has them.
 *
 * QEMU maps both files for the guest's whole life (private, read-only mappings): at every
 * machine reset it copies the kernel's segments into guest RAM, and the firmware reads the
 * initrd through fw_cfg as the guest boots. In between, their pages sit in QEMU's RSS: 43 MiB
 * for Debian's cloud kernel under TCG (35.5 MiB of PVH ELF, 7.5 MiB of initrd), a fifth of
 * QEMU's own memory. Once the firmware has read the initrd, both are paged out
 * (tools/page-out.ts). A reboot in place reads them back from the files, which stay in the
 * guest's runtime directory while it runs; the registry pages them out again when it counts that
 * reboot (registry.ts).
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { EventSink } from '../../log/events.js';
import { pageOut, type AddressRange, type PageOutResult } from '../../tools/page-out.js';

/** One line of /proc/PID/maps that maps a file. */
export interface FileMapping extends AddressRange {
  major: number;
  minor: number;
  inode: number;
}

/** The file mappings of a /proc/PID/maps text (anonymous ones have inode 0 and are left out). */
export function parseFileMappings(maps: string): FileMapping[] {
  const out: FileMapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(line);
    if (!m || m[5] === '0') continue;
    const start = Number.parseInt(m[1] as string, 16);
    out.push({
      start,
      length: Number.parseInt(m[2] as string, 16) - start,
      major: Number.parseInt(m[3] as string, 16),
      minor: Number.parseInt(m[4] as string, 16),
      inode: Number(m[5]),
    });
  }
  return out;
}

/** The resident KiB of each mapping of a /proc/PID/smaps text, by its start address. */
export function parseSmapsRss(smaps: string): Map<number, number> {
  const rss = new Map<number, number>();
  let current: number | undefined;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (head) current = Number.parseInt(head[1] as string, 16);
    const value = /^Rss:\s+(\d+) kB/.exec(line);
    if (value && current !== undefined) rss.set(current, Number(value[1]));
  }
  return rss;
}

/** A file's device and inode as /proc/PID/maps writes them, and its size; undefined if gone. */
export function fileIdentity(
  file: string,
): { major: number; minor: number; inode: number; size: number } | undefined {
  try {
    const st = statSync(file, { bigint: true });
    // glibc's gnu_dev_major / gnu_dev_minor.
    const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
    const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
    return { major: Number(major), minor: Number(minor), inode: Number(st.ino), size: Number(st.size) };
  } catch {
    return undefined;
  }
}

const sameFile = (m: FileMapping, id: { major: number; minor: number; inode: number }): boolean =>
  m.inode === id.inode && m.major === id.major && m.minor === id.minor;

export interface ReleaseOptions {
  /** Wait up to this long for the firmware to have read the whole initrd first (0: do not). */
  initrdWaitMs?: number;
  pollMs?: number;
  procRoot?: string;
  sink?: EventSink;
}

/** What was done: the kernel's advice result, and how long the initrd was waited for. */
export type ReleaseResult = PageOutResult & { waitedMs: number; initrdRead: boolean };

/**
 * Pages out QEMU `pid`'s mappings of the guest's kernel and initrd files. With `initrdWaitMs`, it
 * first waits until the initrd is resident in full (the firmware has read it; under TCG about
 * 0.1 s after the guest starts), so its pages do not come straight back. Never throws: a guest
 * that boots with the pages still held is no worse than before.
 */
export async function releaseBootPages(
  pid: number,
  files: { kernel?: string | undefined; initrd?: string | undefined },
  options: ReleaseOptions = {},
): Promise<ReleaseResult> {
  const procDir = path.join(options.procRoot ?? '/proc', String(pid));
  const started = Date.now();
  const kernel = files.kernel === undefined ? undefined : fileIdentity(files.kernel);
  const initrd = files.initrd === undefined ? undefined : fileIdentity(files.initrd);
  const ids = [kernel, initrd].filter((id) => id !== undefined);
  let initrdRead = false;
  try {
    let mappings = parseFileMappings(await readFile(path.join(procDir, 'maps'), 'utf8'));
    if (initrd !== undefined && mappings.some((m) => sameFile(m, initrd))) {
      const wantKiB = Math.ceil(initrd.size / 4096) * 4;
      const waitMs = options.initrdWaitMs ?? 0;
      for (;;) {
        const rss = parseSmapsRss(await readFile(path.join(procDir, 'smaps'), 'utf8'));
        const resident = mappings
          .filter((m) => sameFile(m, initrd))
          .reduce((kb, m) => kb + (rss.get(m.start) ?? 0), 0);
        initrdRead = resident >= wantKiB;
        if (initrdRead || Date.now() - started >= waitMs) break;
        await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
      }
      mappings = parseFileMappings(await readFile(path.join(procDir, 'maps'), 'utf8'));
    }
    const ranges = mappings.filter((m) => ids.some((id) => sameFile(m, id)));
    const result = await pageOut(pid, ranges, options.sink ? { sink: options.sink } : {});
    return { ...result, waitedMs: Date.now() - started, initrdRead };
  } catch (error) {
    const failed = error instanceof Error ? error.message : String(error);
    return { failed, waitedMs: Date.now() - started, initrdRead };
  }
}
