/**
 * LVM for real, inside a plain Linux VM (the host kernel has no device-mapper): xenkit's own
 * xen-create-image from this checkout builds guests on thick and thin volumes, wipes what an
 * old volume left behind; xen-update-image, resize-image and xen-delete-image work on them; a
 * failed create leaves no volume behind, a failed --force leaves the old guest as it was, and the
 * next create cleans up the half-made volume of one killed with SIGKILL. Backups read the volumes
 * (a running guest's through LVM snapshots) and restore to image files or onto new volumes
 * (--lvm); resize-image grows a layout's second swap by name; an HVM guest's volume is a whole disk.
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
        // A whole run takes ~400 s on a quiet host, 534 s alone in CI, 720 s beside the Xen VM,
        // twice that or more at a load of 10-12.
        timeoutMs: 1_500_000,
      };
    });
    facts = parseFacts(result.stdout);
    const times = [...facts].filter(([k]) => k.startsWith('time.')).map(([k, v]) => `${k.slice(5)} ${v} s`);
    console.log(
      `LVM VM: ready after ${result.bootSeconds} s, whole run ${(result.durationMs / 1000).toFixed(1)} s; ${times.join(', ')}`,
    );
    // Room for a second VM after a guest-kernel hang (found within ~250 s) on top of the first.
  }, 2_500_000);

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

  it('backs up a stopped guest from its volumes, a change stores only its chunks, restores to image files bit for bit', () => {
    expect(fact('backup.exit1'), result.stdout).toBe('0');
    const [disk, swap] = (fact('backup.disk1') ?? '').split(' ').map((d) => d.split(':'));
    // target:size:chunks:zeroChunks:readBytes; the size from the device, every byte read (no extent map).
    expect(disk?.[0]).toBe('/dev/vg0/web1-disk');
    expect(Number(disk?.[1])).toBe(Number(fact('backup.lvsize')));
    expect(Number(disk?.[1])).toBe(256 * MiB);
    expect(Number(disk?.[4])).toBe(256 * MiB);
    // A zeroed thick volume holding a small tree: most 4 MiB chunks are all zeros, stored as nothing.
    expect(Number(disk?.[3])).toBeGreaterThan(Number(disk?.[2]) / 2);
    expect(swap?.[0]).toBe('/dev/vg0/web1-swap');
    expect(fact('backup.exit2'), result.stdout).toBe('0');
    // 3 MiB of random data touch a few chunks (with the ext4 metadata and journal blocks).
    expect(Number(fact('backup.new2'))).toBeGreaterThan(0);
    expect(Number(fact('backup.new2'))).toBeLessThanOrEqual(8);
    expect(fact('backup.cache2')).toBe('false,false');
    expect(fact('backup.restore-exit'), result.stdout).toBe('0');
    expect(fact('backup.same-disk')).toBe('yes');
    expect(Number(fact('backup.restored-kib'))).toBeLessThan(128 * 1024);
    expect(fact('backup.restored-cfg')).toBe(
      'file:/srv/xen/domains/web1/disk.img,xvda2,w file:/srv/xen/domains/web1/swap.img,xvda1,w',
    );
  });

  it('restores a snapshot onto new volumes with --lvm (never over existing ones), bit for bit without --as', () => {
    expect(fact('restore-lvm.same-exit')).toBe('2');
    expect(fact('restore-lvm.same-lvs')).toBe('pool0,thin1-disk,thin1-swap,web1-disk,web1-swap');
    expect(fact('restore-lvm.exit'), result.stdout).toBe('0');
    expect(fact('restore-lvm.lvs')).toBe(
      'pool0,thin1-disk,thin1-swap,web1-disk,web1-swap,web1c-disk,web1c-swap',
    );
    expect(fact('restore-lvm.cfg')).toBe('phy:/dev/vg0/web1c-disk,xvda2,w phy:/dev/vg0/web1c-swap,xvda1,w');
    expect(fact('restore-lvm.types')).toBe('ext4,swap');
    // --as: an identity of its own (new filesystem UUID, in its fstab; its hostname), the data as it was.
    expect(fact('restore-lvm.uuids')).toBe('new');
    expect(fact('restore-lvm.fstab')).toBe('1');
    expect(fact('restore-lvm.hostname')).toBe('web1c');
    expect(fact('restore-lvm.change')).toBe('same');
    expect(fact('restore-lvm.snap1-exit'), result.stdout).toBe('0');
    expect(fact('restore-lvm.snap1-same')).toBe('yes');
  });

  it('backs up a running guest on LVM from a snapshot it removes after the read, and after a Ctrl-C in it', () => {
    expect(fact('running.exit'), result.stdout).toBe('0');
    expect(fact('running.method')).toMatch(/^LVM snapshot \(vg0\/web1-swap\.xenkit-snap-[0-9a-f]{6}\)$/);
    // One volume: never paused.
    expect(fact('running.calls')).toBe('');
    expect(fact('running.pausedMs')).toBe('0');
    expect(fact('running.seen')).toMatch(/^web1-swap\.xenkit-snap-[0-9a-f]{6}:web1-swap$/);
    // Nothing changed since the last stopped backup: the snapshot's chunks are all there already.
    expect(fact('running.newChunks')).toBe('0');
    expect(fact('running.left')).toBe('');
    expect(fact('abort.exit')).toBe('1');
    expect(fact('abort.code')).toBe('E_CANCELLED');
    expect(fact('abort.seen')).toMatch(/xenkit-snap/);
    expect(fact('abort.left')).toBe('');
    expect(fact('backup.verify')).toBe('0');
    expect(fact('backup.lvs')).toBe('pool0,thin1-disk,thin1-swap,web1-disk,web1-swap');
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
    expect(fact('parts.resize-exit'), result.stdout).toBe('0');
    expect(Number(fact('parts.resize-size'))).toBe(24 * MiB);
    expect(fact('parts.resize-uuid')).toBe(swap2);
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

  it('makes an HVM guest on LVM: the volume is a whole disk (MBR, bootable partition at 1 MiB, ext4 with extlinux)', () => {
    expect(fact('hvm.exit'), result.stdout).toBe('0');
    expect(fact('hvm.lvs')).toBe('hvm1-disk,pool0');
    expect(fact('hvm.mbr')).toBe('55aa');
    const sectors = Number(fact('hvm.lvbytes')) / 512 - 2048;
    // Bootable (0x80), Linux (0x83), from sector 2048 (1 MiB) to the end of the volume.
    expect(fact('hvm.part')).toBe(`128 83 2048 ${sectors}`);
    expect(fact('hvm.fstype')).toBe('ext4');
    expect(fact('hvm.cfgdisk')).toBe('phy:/dev/vg0/hvm1-disk,xvda,w');
    expect(fact('hvm.cfgtype')).toBe('type=hvm');
    expect(fact('hvm.hostname')).toBe('hvm1');
    expect(fact('hvm.ldlinux')).toBe('yes');
    expect(fact('hvm.fstab')).toBe('1');
    expect(fact('hvm.loops')).toBe('0');
    expect(fact('hvm.deleted')).toBe('0');
    expect(fact('hvm.after-delete')).toBe('pool0');
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
