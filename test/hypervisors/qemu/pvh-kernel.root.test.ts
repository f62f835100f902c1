/**
 * A bzImage whose payload is xz-compressed, as Debian's amd64 kernels are, unpacked by the real
 * `xz` into the PVH ELF that QEMU boots.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bzImagePayload, trimElf } from '../../../src/hypervisors/qemu/pvh-elf.js';
import { pvhKernelFor } from '../../../src/hypervisors/qemu/pvh-kernel.js';
import { runCommand } from '../../../src/tools/exec.js';
import { makeBzImage, makeElf } from './pvh-elf-fixture.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('the PVH kernel of an xz bzImage', () => {
  const work = mkdtempSync('/var/tmp/xenkit-pvh-');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is the ELF the kernel build compressed, trimmed, made with xz', async () => {
    const elf = makeElf({ code: Buffer.from('text', 'latin1'), zeros: 200_000, noteType: 18 });
    writeFileSync(path.join(work, 'vmlinux'), elf);
    // The kernel build's own flags (scripts/xz_wrap.sh): a BCJ filter and a 32-bit check.
    await runCommand([
      'xz',
      '--keep',
      '--check=crc32',
      '--x86',
      '--lzma2=dict=1MiB',
      path.join(work, 'vmlinux'),
    ]);
    const kernel = path.join(work, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(readFileSync(path.join(work, 'vmlinux.xz'))));
    expect(bzImagePayload(readFileSync(kernel))?.format).toBe('xz');
    const made = await pvhKernelFor(kernel, path.join(work, 'cache'));
    expect(made).toBeDefined();
    expect(readFileSync(made as string).equals(trimElf(elf) as Buffer)).toBe(true);
  });
});
