import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFileMappings } from '../../../src/formats/proc-files.js';
import { fileIdentity, releaseBootPages } from '../../../src/hypervisors/qemu/boot-pages.js';

describe('fileIdentity', () => {
  it("matches the kernel's own line for this process's executable in /proc/self/maps", () => {
    const id = fileIdentity(process.execPath);
    expect(id).toBeDefined();
    const own = parseFileMappings(readFileSync('/proc/self/maps', 'utf8')).filter(
      (m) => m.inode === id?.inode && m.major === id?.major && m.minor === id?.minor,
    );
    expect(own.length).toBeGreaterThan(0);
  });

  it('is undefined for a file that is gone', () => {
    expect(fileIdentity('/nonexistent/xenkit-kernel')).toBeUndefined();
  });
});

describe('releaseBootPages', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fake /proc/PID with the kernel and initrd mapped, the initrd `initrdKiB` resident. */
  function fakeProc(initrdKiB: number): { procRoot: string; kernel: string; initrd: string } {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-boot-pages-'));
    const kernel = path.join(dir, 'vmlinux-pvh');
    const initrd = path.join(dir, 'initrd.img');
    writeFileSync(kernel, Buffer.alloc(3 * 4096));
    writeFileSync(initrd, Buffer.alloc(2 * 4096 + 100));
    const line = (start: string, end: string, file: string): string => {
      const id = fileIdentity(file);
      const dev = `${id?.major.toString(16).padStart(2, '0')}:${id?.minor.toString(16).padStart(2, '0')}`;
      return `${start}-${end} r--p 00000000 ${dev} ${id?.inode} ${file}`;
    };
    const maps = [line('7f0000000000', '7f0000003000', kernel), line('7f0000010000', '7f0000013000', initrd)];
    const procDir = path.join(dir, 'proc', String(2 ** 22 + 7));
    mkdirSync(procDir, { recursive: true });
    writeFileSync(path.join(procDir, 'maps'), `${maps.join('\n')}\n`);
    writeFileSync(
      path.join(procDir, 'smaps'),
      `${maps[0]}\nRss:                  12 kB\n${maps[1]}\nRss:                  ${initrdKiB} kB\n`,
    );
    return { procRoot: path.join(dir, 'proc'), kernel, initrd };
  }

  it('waits no longer once the whole initrd is resident, then asks for the pages (here of a pid that is gone)', async () => {
    const { procRoot, kernel, initrd } = fakeProc(12);
    const result = await releaseBootPages(2 ** 22 + 7, { kernel, initrd }, { procRoot, initrdWaitMs: 5000 });
    expect(result).toMatchObject({ initrdRead: true, failed: 'pidfd_open: No such process' });
    expect(result.waitedMs).toBeLessThan(2000);
  });

  it('waits up to its bound for an initrd the firmware has not read, and does not throw', async () => {
    const { procRoot, kernel, initrd } = fakeProc(4);
    const result = await releaseBootPages(
      2 ** 22 + 7,
      { kernel, initrd },
      { procRoot, initrdWaitMs: 150, pollMs: 20 },
    );
    expect(result).toMatchObject({ initrdRead: false, failed: 'pidfd_open: No such process' });
    expect(result.waitedMs).toBeGreaterThanOrEqual(150);
  });

  it('reports a process without /proc entries instead of throwing', async () => {
    const result = await releaseBootPages(2 ** 22 + 9, { kernel: process.execPath });
    expect(result).toMatchObject({ failed: expect.stringContaining('ENOENT'), initrdRead: false });
  });
});
