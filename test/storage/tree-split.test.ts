import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { splitTree, volumeTreeDir } from '../../src/storage/tree-split.js';
import { UndoStack } from '../../src/plan/undo-stack.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function makeTree(): string {
  const box = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-split-'));
  dirs.push(box);
  const root = path.join(box, 'root');
  fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), 'Package: x\n');
  fs.mkdirSync(path.join(root, 'var/tmp'));
  fs.chmodSync(path.join(root, 'var/tmp'), 0o1777);
  fs.writeFileSync(path.join(root, 'var/tmp/left'), 'tmp\n');
  fs.mkdirSync(path.join(root, 'home/alice'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
  fs.symlinkSync('usr/lib', path.join(root, 'lib'));
  return root;
}

const list = (dir: string): string[] => fs.readdirSync(dir).sort();

describe('splitTree', () => {
  it('moves each subtree out (children first) and leaves empty mount points with their modes', async () => {
    const root = makeTree();
    const undo = new UndoStack();
    const volumes = [
      { name: 'var', mountpoint: '/var' },
      { name: 'var-tmp', mountpoint: '/var/tmp' },
      { name: 'home', mountpoint: '/home' },
      { name: 'srv', mountpoint: '/srv/www' },
    ];
    await splitTree(root, volumes, { undo });
    expect(list(path.join(root, 'var'))).toEqual([]);
    // /var/tmp went first, leaving its empty mount point (mode kept) in the /var tree.
    expect(list(path.join(volumeTreeDir(root, 'var'), 'tmp'))).toEqual([]);
    expect(fs.statSync(path.join(volumeTreeDir(root, 'var'), 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(list(path.join(root, 'home'))).toEqual([]);
    expect(list(path.join(root, 'srv/www'))).toEqual([]);
    expect(list(volumeTreeDir(root, 'var'))).toEqual(['lib', 'tmp']);
    expect(list(volumeTreeDir(root, 'var-tmp'))).toEqual(['left']);
    expect(fs.statSync(volumeTreeDir(root, 'var-tmp')).mode & 0o7777).toBe(0o1777);
    expect(list(volumeTreeDir(root, 'home'))).toEqual(['alice']);
    expect(list(volumeTreeDir(root, 'srv'))).toEqual([]);
    expect(await undo.unwind(() => undefined)).toEqual([]);
    expect(fs.readFileSync(path.join(root, 'var/tmp/left'), 'utf8')).toBe('tmp\n');
    expect(fs.readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8')).toBe('Package: x\n');
    expect(list(path.join(root, 'home'))).toEqual(['alice']);
  });

  it.each([
    ['/lib/modules', /lies under \/lib, a symlink/],
    ['/lib', /is a symlink in the installed system/],
  ])('refuses the mount point %s', async (mountpoint, message) => {
    const root = makeTree();
    await expect(splitTree(root, [{ name: 'x', mountpoint }], { undo: new UndoStack() })).rejects.toThrow(
      message,
    );
  });
});
