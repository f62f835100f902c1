import { describe, expect, it } from 'vitest';
import {
  choosePopulateStrategy,
  describeMakeFilesystem,
  type MakeFilesystemOptions,
} from '../../src/storage/filesystem.js';
import type { TreeFacts } from '../../src/storage/tree-scan.js';

const U = '0b1c2d3e-4f50-4162-8374-8596a7b8c9da';
const base: MakeFilesystemOptions = {
  target: '/img',
  fs: 'ext4',
  uuid: U,
  populateFrom: '/tree',
  sizeBytes: 1024 ** 3,
};
const plainTree: TreeFacts = {
  hasDeviceNodes: false,
  crossesFilesystems: false,
  root: { mode: 0o755, uid: 0, gid: 0 },
  allocatedBytes: 1,
  entries: 1,
};

describe('choosePopulateStrategy', () => {
  it.each([
    ['ext4 through mke2fs -d', { fs: 'ext4' }, {}, 'mkfs'],
    ['ext2 on an e2fsprogs without -d by mounting', { fs: 'ext2' }, { e2fsprogs: [1, 42, 9] }, 'mount-copy'],
    ['xfs by mounting (mkfs.xfs -p cannot carry xattrs or hard links)', { fs: 'xfs' }, {}, 'mount-copy'],
    ['btrfs through --rootdir when the tree is plain', { fs: 'btrfs' }, { tree: plainTree }, 'mkfs'],
    [
      'btrfs by mounting when the tree holds device nodes',
      { fs: 'btrfs' },
      { tree: { ...plainTree, hasDeviceNodes: true } },
      'mount-copy',
    ],
    [
      'btrfs by mounting when the tree spans filesystems',
      { fs: 'btrfs' },
      { tree: { ...plainTree, crossesFilesystems: true } },
      'mount-copy',
    ],
    [
      'btrfs by mounting when the top directory is not 0755 root',
      { fs: 'btrfs' },
      { tree: { ...plainTree, root: { mode: 0o700, uid: 0, gid: 0 } } },
      'mount-copy',
    ],
    ['a make_fs override by mounting', { mkfsCommand: ['mkfs.ext4', '-q'] }, {}, 'mount-copy'],
    ['--dontformat by mounting', { format: false }, {}, 'mount-copy'],
    ['nothing when there is no tree', { populateFrom: undefined }, {}, 'none'],
  ] as const)('populates %s', (_what, overrides, facts, strategy) => {
    expect(
      choosePopulateStrategy({ ...base, ...overrides } as MakeFilesystemOptions, facts as never).strategy,
    ).toBe(strategy);
  });
});

describe('describeMakeFilesystem', () => {
  it('shows the one mkfs run for ext4', () => {
    const actions = describeMakeFilesystem(base);
    expect(actions[0]).toEqual({ kind: 'run', argv: ['mkfs.ext4', '-F', '-U', U, '-d', '/tree', '/img'] });
    expect(actions.filter((a) => a.kind === 'run')).toHaveLength(1);
  });

  it('shows loop, mount, copy, unmount and detach for xfs', () => {
    const argvs = describeMakeFilesystem({ ...base, fs: 'xfs' })
      .filter((a) => a.kind === 'run')
      .map((a) => (a.kind === 'run' ? a.argv[0] : ''));
    expect(argvs).toEqual(['mkfs.xfs', 'losetup', 'mount', 'cp', 'umount', 'losetup']);
  });

  it('sets the UUID after a make_fs override and mounts a device without a loop', () => {
    const argvs = describeMakeFilesystem({ ...base, target: '/dev/sdb1', mkfsCommand: ['mkfs.ext4', '-q'] })
      .filter((a) => a.kind === 'run')
      .map((a) => (a.kind === 'run' ? a.argv.join(' ') : ''));
    expect(argvs[0]).toBe('mkfs.ext4 -q /dev/sdb1');
    expect(argvs[1]).toBe(`tune2fs -U ${U} /dev/sdb1`);
    expect(argvs.some((a) => a.startsWith('losetup'))).toBe(false);
  });

  it('skips mkfs with --dontformat', () => {
    const actions = describeMakeFilesystem({ ...base, format: false });
    expect(actions.some((a) => a.kind === 'run' && a.argv[0] === 'mkfs.ext4')).toBe(false);
    expect(actions.some((a) => a.kind === 'run' && a.argv[0] === 'cp')).toBe(true);
  });

  it('warns in the dry run that btrfs may fall back to a mount', () => {
    expect(
      describeMakeFilesystem({ ...base, fs: 'btrfs' }).some(
        (a) => a.kind === 'note' && a.text.includes('device nodes'),
      ),
    ).toBe(true);
  });
});
