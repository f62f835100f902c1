/**
 * LVM for real, inside a plain Linux VM (the host kernel has no device-mapper): xenkit's own
 * xen-create-image from this checkout builds guests on thick and thin volumes, wipes what an
 * old volume left behind; xen-update-image, resize-image and xen-delete-image work on them; a
 * failed create leaves no volume behind, a failed --force leaves the old guest as it was, and the
 * next create cleans up the half-made volume of one killed with SIGKILL.
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
import { describeDetect, parseDetectFact, renderDetectStep } from './detect-scenario.js';
import { runInVmRetryingKernelHang, type VmRunResult } from './vm.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;

describe.skipIf(!isRoot)('LVM-backed guests in a VM', () => {
  let dir: string;
  let result: VmRunResult;
  let facts: Map<string, string>;
  const marker = `XENKIT-OLD-GUEST-${randomBytes(6).toString('hex')}`;
  const fact = (key: string): string | undefined => facts.get(key);

  beforeAll(async () => {
    if (!fs.existsSync(path.join(REPO, 'dist/bundle/cli.mjs'))) {
      await runCommand(['npm', 'run', 'build'], { cwd: REPO });
    }
    const tarball = await miniTreeTarball();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-lvm-vm-'));
    const wipeDisk = path.join(dir, 'wipe.qcow2');
    result = await runInVmRetryingKernelHang(async () => {
      await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', wipeDisk, '128M']);
      return {
        kind: 'linux',
        command: {
          script:
            renderLvmScenarios({
              repo: REPO,
              tarball,
              mainDisk: '/dev/vda',
              wipeDisk: '/dev/vdb',
              marker,
            }) + renderDetectStep(REPO),
        },
        scratchDiskMiB: 1024,
        disks: [{ path: wipeDisk, format: 'qcow2' }],
        memoryMiB: 2048,
        // A whole run takes ~280 s on a quiet host, twice that at a load of 10.
        timeoutMs: 700_000,
      };
    });
    facts = parseFacts(result.stdout);
    const times = [...facts].filter(([k]) => k.startsWith('time.')).map(([k, v]) => `${k.slice(5)} ${v} s`);
    console.log(
      `LVM VM: ready after ${result.bootSeconds} s, whole run ${(result.durationMs / 1000).toFixed(1)} s; ${times.join(', ')}`,
    );
    // Room for a second VM after a guest-kernel hang (found within ~250 s) on top of the first.
  }, 1_300_000);

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

  it('updates a guest on LVM: apt-get runs chrooted in the mounted volume, and everything is put back', () => {
    expect(fact('update.exit'), result.stdout).toBe('0');
    expect(fact('update.said')).toBe('1');
    expect(fact('update.ran')).toBe(
      'args update|policy-rc.d|proc|args -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade|policy-rc.d|proc|args clean|policy-rc.d|proc',
    );
    expect(fact('update.policy')).toBe('gone');
    expect(fact('update.open')).toBe('-');
    expect(fact('update.mounts')).toBe('0');
  });

  it('grows the disk volume, its ext4 and the swap with resize-image; the data survives', () => {
    expect(fact('resize.exit'), result.stdout).toBe('0');
    expect(Number(fact('resize.lvsize'))).toBe(384 * MiB);
    expect(Number(fact('resize.fsbytes'))).toBe(384 * MiB);
    expect(Number(fact('resize.swapsize'))).toBe(64 * MiB);
    expect(fact('resize.swapuuid')).toBe('same');
    expect(fact('resize.fsck')).toBe('0');
    expect(fact('resize.keep')).toBe(`${marker}-keep`);
  });

  it('leaves the old guest untouched when --force over it fails', () => {
    expect(fact('force-fail.exit')).not.toBe('0');
    expect(fact('force-fail.made'), result.stdout).toBe('1');
    expect(fact('force-fail.lvs')).toBe('pool0,thin1-disk,thin1-swap,web1-disk,web1-swap');
    expect(fact('force-fail.uuid')).toBe('same');
    expect(fact('force-fail.size')).toBe('384.00');
    expect(fact('force-fail.keep')).toBe(`${marker}-keep`);
  });

  it('replaces the old guest with --force only once the new one is complete', () => {
    expect(fact('force-ok.exit'), result.stdout).toBe('0');
    expect(fact('force-ok.lvs')).toBe('pool0,thin1-disk,thin1-swap,web1-disk,web1-swap');
    expect(fact('force-ok.uuid')).toBe('changed');
    expect(fact('force-ok.size')).toBe('96.00');
    expect(fact('force-ok.fstab')).toBe('1');
  });

  it('deletes an LVM guest with xen-delete-image --lvm: dry run first, refused while in use', () => {
    expect(fact('delete.dry-exit')).toBe('0');
    expect(fact('delete.dry-said')).toBe('2');
    expect(fact('delete.dry-lvs')).toBe('pool0,thin1-disk,thin1-swap,web1-disk,web1-swap');
    expect(fact('delete.busy-exit')).toBe('1');
    expect(fact('delete.busy-said')).toBe('1');
    expect(fact('delete.exit'), result.stdout).toBe('0');
    expect(fact('delete.lvs')).toBe('pool0,thin1-disk,thin1-swap');
    expect(fact('delete.cfg')).toBe('gone');
  });

  it('cleans up the half-made volume of a create killed with SIGKILL in the next create', () => {
    expect(fact('kill.exit')).toBe('137');
    expect(fact('kill.lvs')).toBe('kill1-disk,pool0,thin1-disk,thin1-swap');
    expect(fact('kill.journals')).toBe('1');
    expect(fact('kill.next-exit'), result.stdout).toBe('0');
    expect(fact('kill.said')).toBe('1');
    expect(fact('kill.next-lvs')).toBe('kill1-disk,kill1-swap,pool0,thin1-disk,thin1-swap');
    expect(fact('kill.next-journals')).toBe('0');
    expect(fact('kill.mounts')).toBe('0');
    expect(fact('kill.deleted')).toBe('0');
  });

  it('deletes a thin guest from its cfg alone (xenkit delete-image NAME)', () => {
    expect(fact('thin-delete.exit'), result.stdout).toBe('0');
    expect(fact('thin-delete.lvs')).toBe('pool0');
  });

  it('makes one volume per section of a --partitions layout, mounted by UUID, and removes them all on failure and on delete', () => {
    expect(fact('parts.fail-exit')).not.toBe('0');
    expect(fact('parts.fail-made'), result.stdout).toBe('1');
    expect(fact('parts.fail-lvs')).toBe('pool0');
    expect(fact('parts.exit'), result.stdout).toBe('0');
    expect(fact('parts.lvs')).toBe('part1-home,part1-root,part1-swap,part1-swap2,part1-var,pool0');
    expect(fact('parts.types')).toBe('ext4,xfs,ext4,swap,swap');
    expect(fact('parts.cfgdisk')).toBe(
      'phy:/dev/vg0/part1-root,xvda3,w phy:/dev/vg0/part1-home,xvda5,w phy:/dev/vg0/part1-var,xvda4,w phy:/dev/vg0/part1-swap2,xvda2,w phy:/dev/vg0/part1-swap,xvda1,w',
    );
    expect(fact('parts.root')).toBe("root        = '/dev/xvda3 ro'");
    const [root, varUuid, home, swap, swap2] = (fact('parts.uuids') ?? '').split(' ');
    expect(swap2).not.toBe(swap);
    expect(fact('parts.fstab')).toBe(
      `UUID=${root} / ext4 defaults|UUID=${varUuid} /var ext4 defaults|UUID=${home} /home xfs nodev|UUID=${swap} none swap sw|UUID=${swap2} none swap sw`,
    );
    expect(fact('parts.rootvar')).toBe('0');
    expect(fact('parts.vardpkg')).toBe('yes');
    expect(fact('parts.deleted')).toBe('0');
    expect(fact('parts.after-delete')).toBe('pool0');
  });

  it('refuses a guest larger than the volume group before bootstrapping, with exit 2', () => {
    expect(fact('rollback-space.exit')).toBe('2');
    expect(fact('rollback-space.refused'), result.stdout).toBe('1');
    expect(fact('rollback-space.made')).toBe('0');
    expect(fact('rollback-space.installed')).toBe('0');
    expect(fact('rollback-space.lvs')).toBe('pool0,thin1-disk,thin1-swap');
  });

  it('removes the volumes it made when a later step fails', () => {
    expect(fact('rollback-late.exit')).not.toBe('0');
    expect(fact('rollback-late.made'), result.stdout).toBe('1');
    expect(fact('rollback-late.lvs')).toBe('pool0,thin1-disk,thin1-swap');
  });

  it('runs xenkit detect inside: virtual, QEMU without acceleration, not a container', () => {
    const detect = parseDetectFact(fact('detect.json'));
    console.log(describeDetect('plain Linux VM (QEMU TCG)', detect));
    expect(detect).toMatchObject({ virtual: true, hypervisor: 'qemu-tcg', container: null, xenRole: null });
    expect(detect.cpuidMethod).toMatch(/^\/dev\/cpu\/0\/cpuid/);
    expect(fact('detect.exit')).toBe('0');
    // The VM runs the host's userspace, /.dockerenv included: the others say docker, xenkit not.
    const sdv = detect.others.find((o) => o.tool === 'systemd-detect-virt');
    expect(sdv?.said).toMatch(/^vm: qemu,/);
    if (/container: docker/.test(sdv?.said ?? '')) expect(sdv?.agrees).toBe(false);
  });
});
