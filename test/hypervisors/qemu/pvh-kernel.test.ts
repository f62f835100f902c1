import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { bzImagePayload, hasPvhEntry, trimElf } from '../../../src/hypervisors/qemu/pvh-elf.js';
import {
  bootablePvhKernel,
  preparePvhKernel,
  pruneCache,
  pvhKernelFor,
} from '../../../src/hypervisors/qemu/pvh-kernel.js';
import { lz4KernelPayload, makeBzImage, makeElf } from './pvh-elf-fixture.js';

const code = Buffer.from('kernel text and data', 'latin1');
const pvhElf = makeElf({ code, zeros: 50_000, noteType: 18 });

const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xenkit-pvh-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('bzImagePayload', () => {
  it('finds the gzip payload after the setup sectors and payload_offset', () => {
    const payload = gzipSync(pvhElf);
    expect(bzImagePayload(makeBzImage(payload))).toEqual({ format: 'gzip', data: payload });
  });

  it.each([
    ['an ELF', pvhElf],
    ['a short file', Buffer.alloc(100)],
    ['a bzImage with a payload of unknown compression', makeBzImage(Buffer.from('LZ4 or zstd data'))],
  ])('returns nothing for %s', (_what, file) => {
    expect(bzImagePayload(file)).toBeUndefined();
  });
});

describe('hasPvhEntry', () => {
  it.each([
    ['the Xen PHYS32_ENTRY note', { noteType: 18 }, true],
    ['only another Xen note', { noteType: 17 }, false],
    ['type 18 under another name', { noteType: 18, noteName: 'GNU' }, false],
  ])('is %s -> %s', (_what, note, expected) => {
    expect(hasPvhEntry(makeElf({ code, zeros: 10, ...note }))).toBe(expected);
  });
});

describe('trimElf', () => {
  it("keeps each segment's bytes up to its last non-zero byte, its memory size, and no section headers", () => {
    const trimmed = trimElf(pvhElf);
    expect(trimmed).toBeDefined();
    const out = trimmed as Buffer;
    const load = 64;
    expect(Number(out.readBigUInt64LE(load + 32))).toBe(code.length); // p_filesz
    expect(Number(out.readBigUInt64LE(load + 40))).toBe(code.length + 50_000); // p_memsz
    expect(out.subarray(0x1000, 0x1000 + code.length).equals(code)).toBe(true);
    expect(out.readUInt16LE(0x3c)).toBe(0);
    expect(out.readBigUInt64LE(0x28)).toBe(0n);
    // The note segment still lies inside the file and is still found.
    expect(out.length).toBe(pvhElf.length - 64);
    expect(hasPvhEntry(out)).toBe(true);
  });

  it('refuses what is not an x86-64 ELF', () => {
    const arm = Buffer.from(pvhElf);
    arm.writeUInt16LE(183, 0x12);
    expect(trimElf(arm)).toBeUndefined();
    expect(trimElf(Buffer.from('not an elf'))).toBeUndefined();
  });
});

describe('pvhKernelFor', () => {
  it('unpacks a gzip bzImage once into the cache, named by its SHA-256, and reuses it', async () => {
    const dir = scratch();
    const kernel = path.join(dir, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(gzipSync(pvhElf)));
    const cache = path.join(dir, 'cache');
    const first = await pvhKernelFor(kernel, cache);
    expect(first).toMatch(/\/cache\/[0-9a-f]{64}\.elf$/);
    expect(readFileSync(first as string).equals(trimElf(pvhElf) as Buffer)).toBe(true);
    const old = new Date(Date.now() - 86_400_000);
    utimesSync(first as string, old, old);
    const inode = statSync(first as string).ino;
    expect(await pvhKernelFor(kernel, cache)).toBe(first);
    expect(statSync(first as string).ino).toBe(inode);
    expect(statSync(first as string).mtimeMs).toBeGreaterThan(old.getTime());
  });

  it('unpacks an LZ4 bzImage (the cloud flavour), checking the size the kernel appends', async () => {
    const dir = scratch();
    const kernel = path.join(dir, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(lz4KernelPayload(pvhElf)));
    const cache = path.join(dir, 'cache');
    const made = await pvhKernelFor(kernel, cache);
    expect(readFileSync(made as string).equals(trimElf(pvhElf) as Buffer)).toBe(true);
    // A payload whose appended size disagrees is no kernel to trust: the bzImage boots as it is.
    const payload = lz4KernelPayload(pvhElf);
    payload.writeUInt32LE(pvhElf.length + 1, payload.length - 4);
    const odd = path.join(dir, 'vmlinuz-odd');
    writeFileSync(odd, makeBzImage(payload));
    expect(await pvhKernelFor(odd, path.join(dir, 'cache2'))).toBeUndefined();
    expect(readdirSync(path.join(dir, 'cache2'))).toEqual([]);
  });

  it('gives nothing for a kernel without the PVH entry, and caches nothing', async () => {
    const dir = scratch();
    const kernel = path.join(dir, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(gzipSync(makeElf({ code, zeros: 10, noteType: 17 }))));
    expect(await pvhKernelFor(kernel, path.join(dir, 'cache'))).toBeUndefined();
    // Neither the ELF nor the partial files it was made in.
    expect(readdirSync(path.join(dir, 'cache'))).toEqual([]);
  });
});

describe('bootablePvhKernel', () => {
  it("links the cached ELF into the guest's runtime directory", async () => {
    const dir = scratch();
    const kernel = path.join(dir, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(gzipSync(pvhElf)));
    const cache = path.join(dir, 'cache');
    const booted = await bootablePvhKernel(kernel, cache, dir);
    expect(booted).toBe(path.join(dir, 'vmlinux-pvh'));
    const cached = path.join(cache, readdirSync(cache)[0] ?? '');
    expect(statSync(booted).ino).toBe(statSync(cached).ino);
  });

  it('boots the bzImage itself when it cannot be unpacked', async () => {
    const dir = scratch();
    const kernel = path.join(dir, 'vmlinuz');
    writeFileSync(kernel, makeBzImage(Buffer.from('zstd data')));
    expect(await bootablePvhKernel(kernel, path.join(dir, 'cache'), dir)).toBe(kernel);
  });
});

describe('pruneCache', () => {
  it('keeps the most recently used kernels', () => {
    const dir = scratch();
    for (let i = 0; i < 5; i++) {
      const file = path.join(dir, `${i}.elf`);
      writeFileSync(file, 'x');
      const when = new Date(Date.now() - (5 - i) * 60_000);
      utimesSync(file, when, when);
    }
    writeFileSync(path.join(dir, 'other'), 'kept');
    pruneCache(dir, 2);
    expect(readdirSync(dir).sort()).toEqual(['3.elf', '4.elf', 'other']);
  });

  it('removes the partial file of a writer that is gone, never that of one that runs', () => {
    const dir = scratch();
    const digest = 'a'.repeat(64);
    // A pid above pid_max (4194304 at most) names no process.
    const gone = `${digest}.elf.4194305-0a1b2c3d.tmp`;
    const running = `${digest}.vmlinuz.${process.pid}-0a1b2c3d.tmp`;
    for (const name of [gone, running, `${digest}.elf`]) writeFileSync(path.join(dir, name), 'x');
    pruneCache(dir, 8);
    expect(readdirSync(dir).sort()).toEqual([`${digest}.elf`, running].sort());
  });
});

describe('preparePvhKernel', () => {
  const bootTree = (kernels: Record<string, Buffer>): string => {
    const root = scratch();
    mkdirSync(path.join(root, 'boot'));
    for (const [name, data] of Object.entries(kernels)) writeFileSync(path.join(root, 'boot', name), data);
    return root;
  };
  const other = makeElf({ code: Buffer.from('an older kernel', 'latin1'), zeros: 10, noteType: 18 });

  it('caches the PVH ELF of the newest /boot/vmlinuz-* of a tree, the one the boot picks', async () => {
    const root = bootTree({
      'vmlinuz-6.1.0-9-amd64': makeBzImage(gzipSync(other)),
      'vmlinuz-6.1.0-10-amd64': makeBzImage(gzipSync(pvhElf)),
      'initrd.img-6.1.0-10-amd64': Buffer.from('initrd'),
    });
    const cache = path.join(root, 'cache');
    const made = await preparePvhKernel(root, cache);
    expect(readFileSync(made as string).equals(trimElf(pvhElf) as Buffer)).toBe(true);
    // What the boot asks for later (the same kernel, copied out of the disk) is that entry.
    const copied = path.join(root, 'vmlinuz-copy');
    writeFileSync(copied, readFileSync(path.join(root, 'boot/vmlinuz-6.1.0-10-amd64')));
    expect(await pvhKernelFor(copied, cache)).toBe(made);
    expect(readdirSync(cache)).toHaveLength(1);
  });

  it('makes nothing for a tree without a kernel, or whose /boot is a symlink', async () => {
    const empty = bootTree({});
    expect(await preparePvhKernel(empty, path.join(empty, 'cache'))).toBeUndefined();
    const linked = scratch();
    const target = bootTree({ 'vmlinuz-6.1.0-10-amd64': makeBzImage(gzipSync(pvhElf)) });
    symlinkSync(path.join(target, 'boot'), path.join(linked, 'boot'));
    expect(await preparePvhKernel(linked, path.join(linked, 'cache'))).toBeUndefined();
    expect(existsSync(path.join(linked, 'cache'))).toBe(false);
  });

  it('makes one entry when two guests of one kernel ask for it at once', async () => {
    const root = bootTree({ 'vmlinuz-6.1.0-10-amd64': makeBzImage(gzipSync(pvhElf)) });
    const cache = path.join(root, 'cache');
    const [a, b] = await Promise.all([preparePvhKernel(root, cache), preparePvhKernel(root, cache)]);
    expect(a).toBeDefined();
    expect(b).toBe(a);
    expect(readdirSync(cache)).toEqual([path.basename(a as string)]);
    expect(readFileSync(a as string).equals(trimElf(pvhElf) as Buffer)).toBe(true);
  });

  it('makes nothing once its signal has ended it', async () => {
    const root = bootTree({ 'vmlinuz-6.1.0-10-amd64': makeBzImage(gzipSync(pvhElf)) });
    const stop = new AbortController();
    stop.abort();
    expect(await preparePvhKernel(root, path.join(root, 'cache'), stop.signal)).toBeUndefined();
    expect(existsSync(path.join(root, 'cache'))).toBe(false);
  });
});
