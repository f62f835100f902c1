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
import { parseFileMappings, parseSmapsRss, splitDevice, type FileMapping } from '../../formats/proc-files.js';
import type { EventSink } from '../../log/events.js';
import { pageOut, type PageOutResult } from '../../tools/page-out.js';

/** A file's device and inode as /proc/PID/maps writes them, and its size; undefined if gone. */
export function fileIdentity(
  file: string,
): { major: number; minor: number; inode: number; size: number } | undefined {
  try {
    const st = statSync(file, { bigint: true });
    return { ...splitDevice(st.dev), inode: Number(st.ino), size: Number(st.size) };
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
    // QEMU maps both files once at start-up and keeps the mappings: one read of maps serves.
    const mappings = parseFileMappings(await readFile(path.join(procDir, 'maps'), 'utf8'));
    const initrdMappings = initrd === undefined ? [] : mappings.filter((m) => sameFile(m, initrd));
    if (initrd !== undefined && initrdMappings.length > 0) {
      const wantKiB = Math.ceil(initrd.size / 4096) * 4;
      const waitMs = options.initrdWaitMs ?? 0;
      for (;;) {
        const rss = parseSmapsRss(await readFile(path.join(procDir, 'smaps'), 'utf8'));
        const resident = initrdMappings.reduce((kb, m) => kb + (rss.get(m.start) ?? 0), 0);
        initrdRead = resident >= wantKiB;
        if (initrdRead || Date.now() - started >= waitMs) break;
        await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
      }
    }
    const ranges = mappings.filter((m) => ids.some((id) => sameFile(m, id)));
    const result = await pageOut(pid, ranges, options.sink ? { sink: options.sink } : {});
    return { ...result, waitedMs: Date.now() - started, initrdRead };
  } catch (error) {
    const failed = error instanceof Error ? error.message : String(error);
    return { failed, waitedMs: Date.now() - started, initrdRead };
  }
}
