/**
 * Merged settings -> GuestSpec. Every rule records its problem in one ErrorCollector, so the
 * user sees every mistake at once; each error names the input (`--size`, `file:line: size`)
 * and carries a hint. Nothing here writes anything.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ErrorCollector } from '../errors.js';
import type { DiskSpec, FsType, GuestSpec, OutputSpec, StorageSpec, SwapSpec } from '../model/guest-spec.js';
import type { HostFacts } from '../model/host-facts.js';
import type { Paths } from '../paths.js';
import { findDistribution, knownReleases, type Distribution } from './distributions.js';
import type { PoolAddress } from './ips-file.js';
import { CREATE_IMAGE_OPTIONS, FILESYSTEMS, filesystemDefaults } from './options.js';
import { SettingsReader } from './settings-reader.js';
import type { Settings } from './settings.js';
import { validateNetwork } from './validate-network.js';
import { validateAccounts, validateBoot, validateHooks, validateInstall } from './validate-system.js';

export interface ValidateContext {
  paths: Paths;
  host: HostFacts;
  /** The global xen-tools.conf that was read, if any (its kernel= is ignored under pygrub). */
  globalConfFile: string | undefined;
  /** Picks a free address for `--ip=auto`; records its own problems in `errors`. */
  pickAutoIp: (r: SettingsReader) => Promise<PoolAddress | undefined>;
}

const LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const VG_RE = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;
const DISK_RE = /^(xvd|sd|hd|vd)[a-z]+$/;

function validateHostname(
  r: SettingsReader,
): { hostname: string; name: string; domain: string | undefined } | undefined {
  const hostname = r.string('hostname');
  if (hostname === undefined) {
    r.errors.add(
      'E_HOSTNAME',
      '--hostname is required',
      'name the guest, e.g. --hostname=web1 or --hostname=web1.example.org',
    );
    return undefined;
  }
  const hint =
    'use letters, digits and "-" in dot-separated labels of up to 63 characters, e.g. web1.example.org';
  const labels = hostname.split('.');
  const bad = labels.find((label) => !LABEL_RE.test(label));
  if (hostname.length > 253) r.fail('hostname', 'E_HOSTNAME', 'is longer than 253 characters', hint);
  else if (bad !== undefined) {
    const why =
      bad === ''
        ? 'has an empty label'
        : bad.length > 63
          ? `has a label longer than 63 characters`
          : `is not a valid host name (label "${bad}")`;
    r.fail('hostname', 'E_HOSTNAME', why, hint);
  } else {
    return {
      hostname,
      name: labels[0] ?? hostname,
      domain: labels.length > 1 ? labels.slice(1).join('.') : undefined,
    };
  }
  return undefined;
}

function validateStorage(r: SettingsReader, hostname: string | undefined): StorageSpec | undefined {
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

function validateDisk(
  r: SettingsReader,
  storage: StorageSpec | undefined,
): { disk: DiskSpec; swap: SwapSpec | undefined } | undefined {
  const before = r.errors.errors.length;
  const onDevice = storage?.kind === 'device';
  // With --image-dev the device's size is what it is (xen-tools drops size and swap too).
  const size = onDevice ? 0 : r.size('size', { requireUnit: true });
  const noswap = r.bool('noswap') ?? false;
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
  let base = r.bool('ide')
    ? 'hda'
    : r.bool('scsi')
      ? 'sda'
      : (r.string('disk_device') ?? 'xvda').replace(/^\/dev\//, '');
  if (!DISK_RE.test(base)) {
    r.fail('disk_device', 'E_DEVICE', 'is not a disk device name', 'use xvda, sda, hda or vda');
    base = 'xvda';
  }
  let mkfsCommand: string[] | undefined;
  if (fs && r.isSet(`make_fs_${fs}`)) {
    const text = r.string(`make_fs_${fs}`) ?? '';
    if (/[;&|<>$`"'\\(){}]/.test(text) || text === '') {
      r.fail(
        `make_fs_${fs}`,
        'E_MKFS',
        'is not a plain command line',
        'write the program and its options only, e.g. mkfs.ext4 -F -O ^metadata_csum',
      );
    } else mkfsCommand = text.split(/\s+/);
  }
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

function validateOutput(
  r: SettingsReader,
  hostname: string | undefined,
  force: boolean,
): OutputSpec | undefined {
  const before = r.errors.errors.length;
  const dir = r.path('output') ?? r.paths.xenDir;
  const extension = r.get('extension')?.value === true ? '' : (r.string('extension') ?? '');
  if (!/^[A-Za-z0-9_.-]*$/.test(extension))
    r.fail(
      'extension',
      'E_EXTENSION',
      'is not a file name suffix',
      'use letters, digits, "_", "-" and ".", e.g. .cfg',
    );
  const template = r.path('template', 'file', r.paths.confDir);
  if (r.errors.errors.length > before || !hostname) return undefined;
  const cfgPath = path.join(dir, `${hostname}${extension}`);
  if (existsSync(cfgPath) && !force) {
    r.errors.add(
      'E_EXISTS',
      `guest "${hostname}": ${cfgPath} already exists`,
      `use --force to replace it, or remove the guest first (xen-delete-image ${hostname})`,
    );
    return undefined;
  }
  return { dir, extension, cfgPath, template, logPath: path.join(r.paths.logDir, `${hostname}.log`) };
}

function lookupDistribution(r: SettingsReader): Distribution | undefined {
  const text = r.string('dist');
  if (text === undefined) {
    r.errors.add('E_DIST', `${r.what('dist')} is empty`, `name a release: ${knownReleases().join(', ')}`);
    return undefined;
  }
  const dist = findDistribution(text);
  if (!dist) {
    r.fail('dist', 'E_DIST', 'is not a known release', `known releases: ${knownReleases().join(', ')}`);
    return undefined;
  }
  if (dist.isEol) r.warnings.push(`${r.what('dist')} "${text}" is past its end of life: no security updates`);
  return dist;
}

/** Validates merged settings into a GuestSpec, or throws ValidationErrors listing every problem. */
export async function validateSettings(
  settings: Settings,
  ctx: ValidateContext,
  warnings: string[],
): Promise<GuestSpec> {
  const errors = new ErrorCollector();
  const r = new SettingsReader(settings, errors, warnings, ctx.paths);
  for (const def of CREATE_IMAGE_OPTIONS) if (def.ignored && r.isSet(def.key)) warnings.push(def.ignored);
  const id = validateHostname(r);
  const memory = r.size('memory', { defaultUnit: 'm' });
  const maxmem = r.string('maxmem') === undefined ? undefined : r.size('maxmem', { defaultUnit: 'm' });
  if (memory !== undefined && maxmem !== undefined && maxmem < memory) {
    r.fail(
      'maxmem',
      'E_MEMORY',
      'is less than --memory',
      'maxmem is the ceiling for ballooning: make it at least the memory size',
    );
  }
  const vcpus = r.int('vcpus', 1, 512);
  const maxvcpus = r.string('maxvcpus') === undefined ? undefined : r.int('maxvcpus', 1, 512);
  if (vcpus !== undefined && maxvcpus !== undefined && maxvcpus < vcpus) {
    r.fail(
      'maxvcpus',
      'E_VCPUS',
      `is less than --vcpus (${vcpus})`,
      'maxvcpus is the ceiling for vcpu-set: make it at least --vcpus',
    );
  }
  const storage = validateStorage(r, id?.hostname);
  const disks = validateDisk(r, storage);
  const dist = lookupDistribution(r);
  const network = await validateNetwork(r, {
    hostname: id?.hostname,
    rawDist: r.string('dist') ?? '',
    pickAutoIp: () => ctx.pickAutoIp(r),
  });
  const boot = validateBoot(r, `/dev/${disks?.disk.device ?? 'xvda2'}`, ctx.globalConfFile);
  const install = validateInstall(r, dist, boot?.useGuestKernel ?? true);
  const accounts = validateAccounts(r);
  const hooks = validateHooks(r);
  const force = r.bool('force') ?? false;
  const output = validateOutput(r, id?.hostname, force);
  const partitions = r.path(
    'partitions',
    'file',
    r.path('partitionsdir') ?? path.join(ctx.paths.confDir, 'partitions.d'),
  );
  if (partitions)
    warnings.push(
      `${r.what('partitions')}: custom partition layouts are not supported yet; using swap + root`,
    );
  const flags = ['boot', 'keep', 'copyhosts', 'nohosts'].map((key) => r.bool(key) ?? false);
  errors.throwIfAny();
  if (
    !id ||
    memory === undefined ||
    vcpus === undefined ||
    !storage ||
    !disks ||
    !network ||
    !boot ||
    !install ||
    !accounts ||
    !hooks ||
    !output
  ) {
    throw new Error('validation failed without an error (bug)');
  }
  const [startAfter = false, keep = false, copyHosts = false, nohosts = false] = flags;
  return {
    ...id,
    memory,
    maxmem,
    vcpus,
    maxvcpus,
    storage,
    disk: disks.disk,
    swap: disks.swap,
    network,
    accounts,
    install,
    boot,
    hooks,
    output,
    startAfter,
    force,
    keep,
    copyHosts,
    updateHostHosts: !nohosts,
  };
}
