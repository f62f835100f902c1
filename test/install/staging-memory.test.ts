import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chooseStaging,
  mountStagingArgv,
  parseMemAvailable,
  readMemAvailable,
  type StagingFacts,
} from '../../src/install/staging-memory.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const facts = (over: Partial<StagingFacts> = {}): StagingFacts => ({
  choice: 'auto',
  method: 'mmdebstrap',
  intoImage: false,
  filesystemBytes: 4 * GiB,
  memAvailable: 20 * GiB,
  ...over,
});

describe('chooseStaging', () => {
  it('stages a package install in memory when its filesystems fit into half the available memory', () => {
    const d = chooseStaging(facts());
    expect(d.inMemory).toBe(true);
    // Bounded by the filesystems plus room for the downloaded packages.
    expect(d.sizeBytes).toBe(4 * GiB + 512 * MiB);
  });

  it('stays on the disk when memory is short, and says how short', () => {
    const d = chooseStaging(facts({ memAvailable: 6 * GiB }));
    expect(d).toMatchObject({ inMemory: false });
    expect(d.reason).toBe('4.5 GiB of filesystems exceed half the available 6.0 GiB');
    expect(chooseStaging(facts({ memAvailable: undefined })).inMemory).toBe(false);
  });

  it('stays on the disk for copy and tar installs, and for a tree built inside the cached image', () => {
    expect(chooseStaging(facts({ method: 'tar' })).reason).toMatch(/extended attributes/);
    expect(chooseStaging(facts({ method: 'copy' })).inMemory).toBe(false);
    expect(chooseStaging(facts({ intoImage: true, choice: 'memory' })).inMemory).toBe(false);
  });

  it('obeys staging = memory and staging = disk', () => {
    expect(chooseStaging(facts({ choice: 'memory', method: 'tar', memAvailable: 1 * GiB })).inMemory).toBe(
      true,
    );
    expect(chooseStaging(facts({ choice: 'disk' }))).toEqual({
      inMemory: false,
      sizeBytes: 0,
      reason: 'staging = disk',
    });
  });

  it('mounts a bounded tmpfs, 0700', () => {
    expect(mountStagingArgv('/srv/x/.xenkit-tree-a-1/mem', 4 * GiB + 512 * MiB)).toEqual([
      'mount',
      '-t',
      'tmpfs',
      '-o',
      'size=4608m,mode=0700',
      '--',
      'xenkit-staging',
      '/srv/x/.xenkit-tree-a-1/mem',
    ]);
  });
});

describe('MemAvailable', () => {
  it('is read from /proc/meminfo in bytes, and unknown when the file is not there', async () => {
    expect(parseMemAvailable('MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n')).toBe(
      20000000 * 1024,
    );
    expect(parseMemAvailable('MemTotal:       24000000 kB\n')).toBeUndefined();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'xenkit-meminfo-'));
    try {
      await writeFile(path.join(dir, 'meminfo'), 'MemAvailable:   1024 kB\n');
      expect(readMemAvailable(path.join(dir, 'meminfo'))).toBe(1024 * 1024);
      expect(readMemAvailable(path.join(dir, 'missing'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(readMemAvailable()).toBeGreaterThan(0);
  });
});
