/**
 * LVM for real, inside a plain Linux VM (the host kernel has no device-mapper): xenkit's own
 * xen-create-image from this checkout builds guests on thick and thin volumes, wipes what an
 * old volume left behind, grows and deletes volumes, and leaves no volume behind on failure.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { REPO } from '../helpers/cli.js';
import { miniTreeTarball } from './mini-tree.js';
import { parseFacts, renderLvmScenarios } from './lvm-scenarios.js';
import { runInVm, type VmRunResult } from './vm.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;

describe.skipIf(!isRoot)('LVM-backed guests in a VM', () => {
  let dir: string;
  let result: VmRunResult;
  let facts: Map<string, string>;
  const marker = `XENKIT-OLD-GUEST-${randomBytes(6).toString('hex')}`;
  const fact = (key: string): string | undefined => facts.get(key);

  beforeAll(async () => {
    if (!fs.existsSync(path.join(REPO, 'dist/cli/bin/xen-create-image.js'))) {
      await runCommand(['npm', 'run', 'build'], { cwd: REPO });
    }
    const tarball = await miniTreeTarball();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-lvm-vm-'));
    const wipeDisk = path.join(dir, 'wipe.qcow2');
    await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', wipeDisk, '128M']);
    result = await runInVm({
      kind: 'linux',
      command: {
        script: renderLvmScenarios({
          repo: REPO,
          tarball,
          mainDisk: '/dev/vda',
          wipeDisk: '/dev/vdb',
          marker,
        }),
      },
      scratchDiskMiB: 1024,
      disks: [{ path: wipeDisk, format: 'qcow2' }],
      memoryMiB: 2048,
      // Under the project's hookTimeout (1 200 s), so a hung VM is reported with its console.
      timeoutMs: 1_100_000,
    });
    facts = parseFacts(result.stdout);
    const times = [...facts].filter(([k]) => k.startsWith('time.')).map(([k, v]) => `${k.slice(5)} ${v} s`);
    console.log(
      `LVM VM: ready after ${result.bootSeconds} s, whole run ${(result.durationMs / 1000).toFixed(1)} s; ${times.join(', ')}`,
    );
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sets up a volume group and a thin pool on the scratch disks', () => {
    expect(fact('setup.exit'), result.stdout + result.stderr).toBe('0');
  });

  it('creates a guest on thick volumes /dev/vg0/NAME-disk and NAME-swap, with the cfg pointing at them', () => {
    expect(fact('thick.exit'), result.stdout).toBe('0');
    expect(fact('thick.lvs')).toBe('pool0,web1-disk,web1-swap');
    expect(fact('thick.segtype')).toBe('linear');
    expect(fact('thick.fstype')).toBe('ext4');
    expect(fact('thick.swaptype')).toBe('swap');
    expect(fact('thick.cfgdisk')).toBe('phy:/dev/vg0/web1-disk,xvda2,w phy:/dev/vg0/web1-swap,xvda1,w');
    expect(fact('thick.hostname')).toBe('web1');
    expect(fact('thick.fstab')).toBe('1');
  });

  it('creates a guest on thin volumes in the pool given with --lvm_thin', () => {
    expect(fact('thin.exit'), result.stdout).toBe('0');
    expect(fact('thin.pool')).toBe('pool0');
    expect(fact('thin.swappool')).toBe('pool0');
    expect(fact('thin.fstype')).toBe('ext4');
    expect(fact('thin.hostname')).toBe('thin1');
  });

  it('never shows a new guest what a removed volume held', () => {
    expect(Number(fact('wipe.written'))).toBeGreaterThan(1000);
    expect(fact('wipe.exit'), result.stdout).toBe('0');
    expect(fact('wipe.disk')).toBe('0');
    expect(fact('wipe.swap')).toBe('0');
  });

  it('grows the disk volume and its ext4 filesystem, and refuses to shrink', () => {
    expect(fact('resize.exit'), result.stdout).toBe('0');
    expect(Number(fact('resize.lvsize'))).toBe(384 * MiB);
    expect(Number(fact('resize.fsbytes'))).toBe(384 * MiB);
    expect(fact('resize.fsck')).toBe('0');
    expect(result.stdout).toContain('E_RESIZE_SHRINK');
  });

  it('deletes every volume of a guest and nothing else', () => {
    expect(fact('delete.exit'), result.stdout).toBe('0');
    expect(result.stdout).toContain('["web1-disk","web1-swap"]');
    expect(fact('delete.lvs')).toBe('pool0,thin1-disk,thin1-swap');
    expect(fact('thin-delete.lvs')).toBe('pool0');
  });

  it('refuses a guest larger than the volume group before creating any volume', () => {
    expect(fact('rollback-space.exit')).toBe('1');
    expect(fact('rollback-space.refused'), result.stdout).toBe('1');
    expect(fact('rollback-space.made')).toBe('0');
    expect(fact('rollback-space.lvs')).toBe('pool0,thin1-disk,thin1-swap');
  });

  it('removes the volumes it made when a later step fails', () => {
    expect(fact('rollback-late.exit')).not.toBe('0');
    expect(fact('rollback-late.made'), result.stdout).toBe('1');
    expect(fact('rollback-late.lvs')).toBe('pool0,thin1-disk,thin1-swap');
  });
});
