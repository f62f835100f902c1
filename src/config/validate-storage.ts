/** Validation of the guest's storage: where it lives, and its root disk and swap. */
import path from 'node:path';
import type { DiskSpec, FsType, StorageSpec, SwapSpec, VolumeSpec } from '../model/guest-spec.js';
import { CREATE_IMAGE_OPTIONS, FILESYSTEMS, filesystemDefaults } from './options.js';
import type { SettingsReader } from './settings-reader.js';
import { isOn } from './settings.js';

const VG_RE = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;
const DISK_RE = /^(xvd|sd|hd|vd)[a-z]+$/;

/** Validates where the guest lives: image files, LVM or block devices (exactly one). */
export function validateStorage(r: SettingsReader, hostname: string | undefined): StorageSpec | undefined {
  for (const def of CREATE_IMAGE_OPTIONS) {
    if (def.obsolete && r.string(def.key) !== undefined)
      r.fail(def.key, 'E_OBSOLETE', 'is no longer supported', def.obsolete);
  }
  const chosen = ['dir', 'lvm', 'image-dev'].filter((key) => r.string(key) !== undefined);
  if (chosen.length > 1) {
    r.errors.add(
      'E_STORAGE',
      `${chosen.map((k) => r.what(k)).join(' and ')} both given`,
      'choose one place for the guest: --dir, --lvm or --image-dev',
    );
    return undefined;
  }
  if (r.string('lvm_thin') !== undefined && chosen[0] !== 'lvm') {
    r.errors.add(
      'E_STORAGE',
      `${r.what('lvm_thin')} needs --lvm`,
      'add --lvm=VG naming the volume group of the thin pool',
    );
  }
  if (r.string('swap-dev') !== undefined && chosen[0] !== 'image-dev') {
    r.errors.add(
      'E_STORAGE',
      `${r.what('swap-dev')} needs --image-dev`,
      'add --image-dev=/dev/... for the root filesystem',
    );
  }
  const format = r.oneOf('image-format', ['raw', 'qcow2'] as const);
  if (format === 'qcow2' && chosen[0] !== 'dir') {
    r.fail(
      'image-format',
      'E_STORAGE',
      'works only with --dir',
      'use --dir=DIR for qcow2 images, or --image-format=raw',
    );
  }
  const allocation = r.oneOf('image', ['sparse', 'full'] as const);
  switch (chosen[0]) {
    case undefined:
      if (!r.errors.errors.some((e) => e.code === 'E_OBSOLETE')) {
        r.errors.add(
          'E_STORAGE',
          'no storage given: none of --dir, --lvm, --image-dev is set',
          'add --dir=DIR (image files), --lvm=VG or --image-dev=DEVICE; or set dir in xen-tools.conf',
        );
      }
      return undefined;
    case 'dir': {
      const dir = r.path('dir');
      if (!dir || !hostname || !allocation || !format) return undefined;
      return { kind: 'file', dir, guestDir: path.join(dir, 'domains', hostname), allocation, format };
    }
    case 'lvm': {
      const vg = r.string('lvm') ?? '';
      const thinPool = r.string('lvm_thin');
      if (!VG_RE.test(vg) || vg === '.' || vg === '..')
        r.fail(
          'lvm',
          'E_LVM',
          'is not a volume group name',
          'letters, digits, "+", "_", ".", "-", not starting with "-"',
        );
      if (thinPool !== undefined && !VG_RE.test(thinPool))
        r.fail('lvm_thin', 'E_LVM', 'is not a logical volume name', 'letters, digits, "+", "_", ".", "-"');
      return { kind: 'lvm', vg, thinPool };
    }
    default: {
      const imageDev = r.path('image-dev');
      const swapDev = r.path('swap-dev');
      if (swapDev === undefined && !r.bool('noswap')) {
        r.errors.add(
          'E_STORAGE',
          `${r.what('image-dev')} needs --swap-dev or --noswap`,
          'add --swap-dev=/dev/... or --noswap (as xen-tools requires)',
        );
      }
      if (!imageDev) return undefined;
      return { kind: 'device', imageDev, swapDev };
    }
  }
}

/**
 * Options that contradict each other on one layer (the command line, or one file); across
 * layers the higher one has already replaced the lower (CHOICE_GROUPS in layer.ts). xen-tools
 * 4.9.2 took noswap over swap and ide over scsi without a word.
 */
function refuseConflicts(r: SettingsReader): void {
  const on = (key: string): boolean => r.isSet(key) && isOn(r.get(key));
  if (on('noswap') && on('swap')) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('noswap')} and ${r.what('swap')} "${r.string('swap') ?? ''}" both given`,
      'choose one: --noswap for no swap, or --swap=SIZE',
    );
  }
  if (on('noswap') && on('swap-dev')) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('noswap')} and ${r.what('swap-dev')} both given`,
      'choose one: --noswap for no swap, or --swap-dev=DEVICE (xen-tools refuses both too)',
    );
  }
  const names = (['ide', 'scsi'] as const).filter(on);
  const device = r.string('disk_device')?.replace(/^\/dev\//, '');
  const implied = names[0] === 'ide' ? 'hda' : 'sda';
  if (names.length === 2) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('ide')} and ${r.what('scsi')} both given`,
      'choose one device naming: --ide (hda), --scsi (sda) or --disk_device=NAME',
    );
  } else if (names[0] && r.isSet('disk_device') && device !== implied) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what(names[0])} and ${r.what('disk_device')} "${device ?? ''}" both given`,
      `choose one: --${names[0]} names the disk ${implied}; or --disk_device=NAME alone`,
    );
  }
}

/** The guest's disk name that partition numbers are appended to (`xvda`, `--ide`, `--disk_device`). */
export function diskBase(r: SettingsReader): string {
  const base = r.bool('ide')
    ? 'hda'
    : r.bool('scsi')
      ? 'sda'
      : (r.string('disk_device') ?? 'xvda').replace(/^\/dev\//, '');
  if (DISK_RE.test(base)) return base;
  r.fail('disk_device', 'E_DEVICE', 'is not a disk device name', 'use xvda, sda, hda or vda');
  return 'xvda';
}

/** `make_fs_<fs>` from the conf as argv, when set (undefined, with an error, if not a plain command). */
export function mkfsCommandFor(r: SettingsReader, fs: FsType): string[] | undefined {
  if (!r.isSet(`make_fs_${fs}`)) return undefined;
  const text = r.string(`make_fs_${fs}`) ?? '';
  if (/[;&|<>$`"'\\(){}]/.test(text) || text === '') {
    r.fail(
      `make_fs_${fs}`,
      'E_MKFS',
      'is not a plain command line',
      'write the program and its options only, e.g. mkfs.ext4 -F -O ^metadata_csum',
    );
    return undefined;
  }
  return text.split(/\s+/);
}

/** Validates root disk and swap: sizes, filesystem, mount and mkfs settings, device names. */
export function validateDisk(
  r: SettingsReader,
  storage: StorageSpec | undefined,
): { disk: DiskSpec; swap: SwapSpec | undefined } | undefined {
  const before = r.errors.errors.length;
  const onDevice = storage?.kind === 'device';
  // With --image-dev the device's size is what it is (xen-tools drops size and swap too).
  const size = onDevice ? 0 : r.size('size', { requireUnit: true });
  const noswap = r.bool('noswap') ?? false;
  refuseConflicts(r);
  const swapSize = noswap || onDevice ? 0 : (r.size('swap', { requireUnit: true, allowZero: true }) ?? 0);
  const hasSwap = onDevice ? storage.swapDev !== undefined : swapSize > 0;
  const fsText = r.string('fs')?.toLowerCase();
  let fs: FsType | undefined;
  if (fsText === 'reiserfs') {
    r.fail(
      'fs',
      'E_FS',
      'is no longer supported',
      'reiserfs was removed from Linux (6.13): use ext4, xfs or btrfs',
    );
  } else fs = r.oneOf('fs', FILESYSTEMS);
  const base = diskBase(r);
  const mkfsCommand = fs ? mkfsCommandFor(r, fs) : undefined;
  if (r.errors.errors.length > before || size === undefined || !fs) return undefined;
  // xen-tools' layout: swap is partition 1, the root filesystem the next one.
  const disk: DiskSpec = {
    size,
    fs,
    mountOptions: r.string(`${fs}_options`) ?? filesystemDefaults()[`${fs}_options`] ?? 'defaults',
    mkfsCommand,
    format: !r.bool('dontformat'),
    device: hasSwap ? `${base}2` : `${base}1`,
  };
  return { disk, swap: hasSwap ? { size: swapSize, device: `${base}1` } : undefined };
}

/** The root disk, swap and a layout's other volumes. */
export interface GuestDisks {
  disk: DiskSpec;
  swap: SwapSpec | undefined;
  extraSwaps?: SwapSpec[];
  volumes?: VolumeSpec[];
}

/**
 * An HVM guest's disks as whole devices: the root disk (partitioned, booted by the firmware) is
 * xvda, swap and a layout's other volumes xvdb, xvdc, ... in partition order. Refuses what its
 * whole-disk image cannot be made on yet: --image-dev, a root filesystem extlinux does
 * not boot from, a separate /boot.
 */
export function hvmDisks(
  r: SettingsReader,
  disks: GuestDisks,
  storage: StorageSpec | undefined,
): GuestDisks | undefined {
  const before = r.errors.errors.length;
  const type = r.what('type');
  if (storage && storage.kind === 'device')
    r.errors.add(
      'E_UNSUPPORTED',
      `${type} "hvm" on --image-dev: HVM whole disks are made as image files or LVM volumes only`,
      'use --dir or --lvm for an HVM guest, or --type=pv or pvh',
    );
  if (!['ext2', 'ext3', 'ext4'].includes(disks.disk.fs))
    r.errors.add(
      'E_UNSUPPORTED',
      `${type} "hvm" with a ${disks.disk.fs} root: the HVM boot loader (extlinux) is installed on ext2/3/4`,
      'use --fs=ext4 for an HVM guest, or --type=pv or pvh',
    );
  if (disks.volumes?.some((v) => v.mountpoint === '/boot'))
    r.errors.add(
      'E_UNSUPPORTED',
      `${type} "hvm" with a /boot volume: extlinux reads the kernels from the root filesystem`,
      'drop the /boot section from the layout',
    );
  if (r.errors.errors.length > before) return undefined;
  const letter = (i: number): string => `xvd${String.fromCharCode(0x61 + i)}`;
  let next = 1;
  return {
    ...disks,
    disk: { ...disks.disk, device: letter(0) },
    swap: disks.swap ? { ...disks.swap, device: letter(next++) } : undefined,
    ...(disks.extraSwaps
      ? { extraSwaps: disks.extraSwaps.map((s) => ({ ...s, device: letter(next++) })) }
      : {}),
    ...(disks.volumes ? { volumes: disks.volumes.map((v) => ({ ...v, device: letter(next++) })) } : {}),
  };
}
