import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProcLocks, splitDevice } from '../../src/formats/proc-files.js';
import {
  describeHolder,
  findImageHolders,
  scanImageHolders,
  scanImageHoldersSoon,
} from '../../src/images/image-holders.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-holders-'));
const image = path.join(scratch, 'disk.img');
const other = path.join(scratch, 'other.img');
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
beforeAll(() => {
  fs.writeFileSync(image, 'x');
  fs.writeFileSync(other, 'y');
});

/** A fake host root: /proc with the given processes' fds and /proc/locks, /sys/block loops. */
function fakeHost(options: {
  fds?: { pid: number; comm: string; fd: number; target: string; flags: string }[];
  locks?: string;
  loops?: { dev: string; backing: string; ro: string }[];
}): string {
  const root = fs.mkdtempSync(path.join(scratch, 'host-'));
  fs.mkdirSync(path.join(root, 'proc'));
  for (const f of options.fds ?? []) {
    const dir = path.join(root, 'proc', String(f.pid));
    fs.mkdirSync(path.join(dir, 'fd'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'fdinfo'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'comm'), `${f.comm}\n`);
    fs.symlinkSync(f.target, path.join(dir, 'fd', String(f.fd)));
    fs.writeFileSync(path.join(dir, 'fdinfo', String(f.fd)), `pos:\t0\nflags:\t${f.flags}\n`);
  }
  fs.writeFileSync(path.join(root, 'proc/locks'), options.locks ?? '');
  for (const l of options.loops ?? []) {
    fs.mkdirSync(path.join(root, 'sys/block', l.dev, 'loop'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sys/block', l.dev, 'loop/backing_file'), `${l.backing}\n`);
    fs.writeFileSync(path.join(root, 'sys/block', l.dev, 'ro'), `${l.ro}\n`);
  }
  return root;
}

/** The /proc/locks line of an OFD lock on `file`, as QEMU takes them. */
function ofdLockLine(file: string): string {
  const stat = fs.statSync(file, { bigint: true });
  const { major, minor } = splitDevice(stat.dev);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `1: OFDLCK ADVISORY  READ -1 ${hex(major)}:${hex(minor)}:${stat.ino} 100 101\n`;
}

describe('findImageHolders on fixture /proc and /sys', () => {
  it('finds the process that has the image open, with its name and whether it writes', () => {
    const hostRoot = fakeHost({
      fds: [
        { pid: 4517, comm: 'qemu-system-x86', fd: 8, target: image, flags: '02100002' },
        { pid: 4600, comm: 'cat', fd: 3, target: other, flags: '0100000' },
        { pid: 4700, comm: 'bash', fd: 1, target: 'pipe:[123]', flags: '01' },
      ],
    });
    const holders = findImageHolders([image], { hostRoot, ignorePids: [] });
    expect(holders).toEqual([{ image, via: 'fd', pid: 4517, comm: 'qemu-system-x86', isWriter: true }]);
    expect(describeHolder(holders[0]!)).toBe('qemu-system-x86 (pid 4517) has it open');
  });

  it('tells a reader (a linked clone reading its base) from a writer', () => {
    const hostRoot = fakeHost({
      fds: [{ pid: 4600, comm: 'qemu-system-x86', fd: 9, target: image, flags: '0100000' }],
    });
    expect(findImageHolders([image], { hostRoot, ignorePids: [] })[0]?.isWriter).toBe(false);
  });

  it('leaves out the processes it is told to ignore (itself)', () => {
    const hostRoot = fakeHost({ fds: [{ pid: 77, comm: 'node', fd: 20, target: image, flags: '02' }] });
    expect(findImageHolders([image], { hostRoot, ignorePids: [77] })).toEqual([]);
  });

  it('finds an OFD lock on the image whose owner it cannot see', () => {
    const hostRoot = fakeHost({ locks: ofdLockLine(image) });
    const holders = findImageHolders([image, other], { hostRoot, ignorePids: [] });
    expect(holders).toEqual([{ image, via: 'lock', pid: undefined, isWriter: undefined }]);
    expect(describeHolder(holders[0]!)).toBe('it is locked (/proc/locks)');
  });

  it('finds a loop device backed by the image, and ignores one whose file was deleted', () => {
    const hostRoot = fakeHost({
      loops: [
        { dev: 'loop3', backing: image, ro: '0' },
        { dev: 'loop4', backing: `${other} (deleted)`, ro: '0' },
      ],
    });
    expect(findImageHolders([image, other], { hostRoot, ignorePids: [] })).toEqual([
      { image, via: 'loop', device: '/dev/loop3', isWriter: true },
    ]);
  });

  it('answers many lookups from one scan (a listing of many guests) as a fresh scan would', () => {
    const hostRoot = fakeHost({
      fds: [
        { pid: 4517, comm: 'qemu-system-x86', fd: 8, target: image, flags: '02100002' },
        { pid: 4600, comm: 'cat', fd: 3, target: other, flags: '0100000' },
      ],
      loops: [{ dev: 'loop3', backing: other, ro: '1' }],
    });
    const snapshot = scanImageHolders({ hostRoot, ignorePids: [] });
    for (const images of [[image], [other], [image, other]]) {
      expect(findImageHolders(images, { snapshot })).toEqual(
        findImageHolders(images, { hostRoot, ignorePids: [] }),
      );
    }
    expect(findImageHolders([other], { snapshot })).toEqual([
      { image: other, via: 'fd', pid: 4600, comm: 'cat', isWriter: false },
      { image: other, via: 'loop', device: '/dev/loop3', isWriter: false },
    ]);
    // The scan is what it saw then: a holder that comes later is the next scan's.
    fs.symlinkSync(image, path.join(hostRoot, 'proc/4600/fd/4'));
    fs.writeFileSync(path.join(hostRoot, 'proc/4600/fdinfo/4'), 'flags:\t02\n');
    expect(findImageHolders([image], { snapshot }).map((h) => h.pid)).toEqual([4517]);
    expect(findImageHolders([image], { hostRoot, ignorePids: [] }).map((h) => h.pid)).toEqual([4517, 4600]);
  });

  it('reads the same snapshot with /proc/locks read on the thread pool, a long lock table too', async () => {
    // 3000 lines: more than one read of the 64 KiB the pooled read takes first.
    const locks = Array.from({ length: 3000 }, (_, i) => ofdLockLine(i % 2 ? image : other)).join('');
    expect(locks.length).toBeGreaterThan(128 * 1024);
    const hostRoot = fakeHost({
      fds: [{ pid: 4517, comm: 'qemu-system-x86', fd: 8, target: image, flags: '02100002' }],
      locks,
      loops: [{ dev: 'loop3', backing: other, ro: '1' }],
    });
    const soon = await scanImageHoldersSoon({ hostRoot, ignorePids: [] });
    expect(soon).toEqual(scanImageHolders({ hostRoot, ignorePids: [] }));
    expect(soon.locks.length).toBe(3000);
    // Without a /proc/locks: no locks, as the synchronous scan has it.
    fs.rmSync(path.join(hostRoot, 'proc/locks'));
    expect((await scanImageHoldersSoon({ hostRoot, ignorePids: [] })).locks).toEqual([]);
  });

  it('finds nothing for images that do not exist', () => {
    const hostRoot = fakeHost({ locks: ofdLockLine(image) });
    expect(findImageHolders([path.join(scratch, 'missing.img')], { hostRoot })).toEqual([]);
  });
});

describe('findImageHolders on this host', () => {
  let child: ChildProcess;
  beforeAll(async () => {
    // A real process holding the image open read-write on fd 3, as a hypervisor would.
    child = spawn('sh', ['-c', `exec 3<>'${image}'; exec sleep 60`], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      const fds = fs.readdirSync(`/proc/${child.pid}/fd`);
      if (fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep' && fds.includes('3')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  it('sees a real lock in /proc/locks read on the thread pool', async () => {
    const locked = path.join(scratch, 'locked.img');
    fs.writeFileSync(locked, 'z');
    const ino = fs.statSync(locked, { bigint: true }).ino;
    const holder = spawn('flock', ['--shared', locked, 'sleep', '60'], { stdio: 'ignore' });
    try {
      const lockedNow = (text: string): boolean => parseProcLocks(text).some((l) => l.inode === ino);
      for (let i = 0; i < 50 && !lockedNow(fs.readFileSync('/proc/locks', 'utf8')); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const soon = await scanImageHoldersSoon();
      expect(soon.locks.some((l) => l.inode === ino && l.kind === 'FLOCK')).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('finds the pid and name of a process with the image open, and no holder of another file', () => {
    expect(findImageHolders([image])).toContainEqual({
      image,
      via: 'fd',
      pid: child.pid,
      comm: 'sleep',
      isWriter: true,
    });
    expect(findImageHolders([other])).toEqual([]);
  });
});
