/**
 * A bzImage whose payload is xz-compressed, as Debian's generic amd64 kernels are, unpacked by the
 * real `xz` into the PVH ELF that QEMU boots; and one compressed by the real `lz4` as the kernel
 * build does for Debian's cloud kernels, unpacked by xenkit's own decoder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bzImagePayload, trimElf } from '../../../src/hypervisors/qemu/pvh-elf.js';
import { pvhKernelFor } from '../../../src/hypervisors/qemu/pvh-kernel.js';
import { runCommand } from '../../../src/tools/exec.js';
import { makeBzImage, makeElf } from './pvh-elf-fixture.js';

const isRoot = process.getuid?.() === 0;

/**
 * Compresses `elf` with the real tool (`compress(input, output)` writes `output`), wraps the
 * result as a bzImage payload (`trailer` appended) and unpacks it as a guest's kernel.
 */
async function unpackCompressed(
  work: string,
  name: string,
  elf: Buffer,
  compress: (input: string, output: string) => string[],
  trailer = Buffer.alloc(0),
): Promise<{ format: string | undefined; made: string | undefined }> {
  const input = path.join(work, name);
  writeFileSync(input, elf);
  await runCommand(compress(input, `${input}.z`));
  const kernel = path.join(work, `${name}.bzImage`);
  writeFileSync(kernel, makeBzImage(Buffer.concat([readFileSync(`${input}.z`), trailer])));
  const format = bzImagePayload(readFileSync(kernel))?.format;
  return { format, made: await pvhKernelFor(kernel, path.join(work, `cache-${name}`)) };
}

describe.skipIf(!isRoot)('the PVH kernel of an xz or LZ4 bzImage', () => {
  const work = mkdtempSync('/var/tmp/xenkit-pvh-');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('is the ELF the kernel build compressed, trimmed, made with xz', async () => {
    const elf = makeElf({ code: Buffer.from('text', 'latin1'), zeros: 200_000, noteType: 18 });
    // The kernel build's own flags (scripts/xz_wrap.sh): a BCJ filter and a 32-bit check.
    const { format, made } = await unpackCompressed(work, 'vmlinux-xz', elf, (input, output) => [
      'sh',
      '-c',
      'xz --stdout --check=crc32 --x86 --lzma2=dict=1MiB "$1" > "$2"',
      'sh',
      input,
      output,
    ]);
    expect(format).toBe('xz');
    expect(readFileSync(made as string).equals(trimElf(elf) as Buffer)).toBe(true);
  });

  it('is the ELF the kernel build compressed with lz4 (legacy format, its size appended), trimmed', async () => {
    const text = Buffer.from('mov rax, rbx; call printk; '.repeat(20_000), 'latin1');
    const elf = makeElf({ code: text, zeros: 300_000, noteType: 18 });
    const size = Buffer.alloc(4);
    size.writeUInt32LE(elf.length, 0);
    // The kernel build's own command (scripts/Makefile.lib, cmd_lz4), then its size_append.
    const { format, made } = await unpackCompressed(
      work,
      'vmlinux-lz4',
      elf,
      (input, output) => ['lz4', '-l', '-12', '--favor-decSpeed', '-f', '-q', input, output],
      size,
    );
    expect(format).toBe('lz4');
    expect(readFileSync(made as string).equals(trimElf(elf) as Buffer)).toBe(true);
  });
});
