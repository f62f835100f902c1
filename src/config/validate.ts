/**
 * Merged settings -> GuestSpec. Every rule records its problem in one ErrorCollector, so the
 * user sees every mistake at once; each error names the input (`--size`, `file:line: size`)
 * and carries a hint. Nothing here writes anything.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ErrorCollector } from '../errors.js';
import { escapeControlChars, hasControlChars } from '../log/escape-control.js';
import { GUEST_NAME_MAX, guestNameProblem } from '../model/guest-name.js';
import type { GuestSpec, OutputSpec } from '../model/guest-spec.js';
import type { HostFacts } from '../model/host-facts.js';
import type { Paths } from '../paths.js';
import { findDistribution, knownReleases, type Distribution } from './distributions.js';
import type { PoolAddress } from './ips-file.js';
import { CREATE_IMAGE_OPTIONS } from './options.js';
import { SettingsReader } from './settings-reader.js';
import type { Settings } from './settings.js';
import { validateNetwork } from './validate-network.js';
import { validatePartitions } from './validate-partitions.js';
import { hvmDisks, validateDisk, validateStorage, type GuestDisks } from './validate-storage.js';
import { validateAccounts, validateBoot, validateHooks, validateInstall } from './validate-system.js';

export interface ValidateContext {
  paths: Paths;
  host: HostFacts;
  /** The global xen-tools.conf that was read, if any (its kernel= is ignored under pygrub). */
  globalConfFile: string | undefined;
  /** Picks a free address for `--ip=auto`; records its own problems in `errors`. */
  pickAutoIp: (r: SettingsReader) => Promise<PoolAddress | undefined>;
}

/** Settings whose value is a secret: never shown in a message. */
const SECRET_KEYS = new Set(['password']);

/**
 * Refuses control characters in every value the user gave, naming the setting: a newline in
 * --dir would forge lines of the run log or of xl.cfg, and no name, path or address xenkit
 * writes anywhere has a use for them.
 */
function refuseControlCharacters(r: SettingsReader): void {
  for (const [key, setting] of Object.entries(r.settings)) {
    if (setting.origin.kind === 'default' || typeof setting.value === 'boolean') continue;
    const items = Array.isArray(setting.value) ? setting.value : [setting.value.trim()];
    const bad = items.find(hasControlChars);
    if (bad === undefined) continue;
    const shown = SECRET_KEYS.has(key) ? '' : ` "${escapeControlChars(bad)}"`;
    r.errors.add(
      'E_CONTROL_CHAR',
      `${r.what(key)}${shown} contains a control character (a line break, tab or escape)`,
      'remove it: names, paths and addresses may not hold control characters',
    );
  }
}

const LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

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
  // The DNS limit is 253, but the name also becomes file names (NAME.cfg, guest-NAME.lock,
  // .xenkit-tree-NAME-xxxxxxxx) that must fit in one 255-byte path component.
  const nameProblem = guestNameProblem(hostname);
  if (hostname.length > 253) r.fail('hostname', 'E_HOSTNAME', 'is longer than 253 characters', hint);
  else if (bad !== undefined) {
    const why =
      bad === ''
        ? 'has an empty label'
        : bad.length > 63
          ? `has a label longer than 63 characters`
          : `is not a valid host name (label "${bad}")`;
    r.fail('hostname', 'E_HOSTNAME', why, hint);
  } else if (nameProblem !== undefined) {
    r.fail(
      'hostname',
      'E_HOSTNAME',
      nameProblem,
      `xenkit names files after the guest: use at most ${GUEST_NAME_MAX} characters`,
    );
  } else {
    return {
      hostname,
      name: labels[0] ?? hostname,
      domain: labels.length > 1 ? labels.slice(1).join('.') : undefined,
    };
  }
  return undefined;
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
  refuseControlCharacters(r);
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
  const layoutFile = r.path(
    'partitions',
    'file',
    r.path('partitionsdir') ?? path.join(ctx.paths.confDir, 'partitions.d'),
  );
  const layout = layoutFile !== undefined ? validatePartitions(r, layoutFile, storage) : undefined;
  const layoutOrDisk: GuestDisks | undefined = layoutFile !== undefined ? layout : validateDisk(r, storage);
  const disks =
    layoutOrDisk && r.string('type') === 'hvm' ? hvmDisks(r, layoutOrDisk, storage) : layoutOrDisk;
  if (layoutFile !== undefined) {
    // xen-tools 4.9.2 drops these without a word when a layout is given.
    for (const key of ['size', 'swap', 'noswap', 'fs'].filter((k) => r.get(k)?.origin.kind === 'cli'))
      warnings.push(`${r.what(key)} is ignored with ${r.what('partitions')}: the layout gives every volume`);
  }
  const dist = lookupDistribution(r);
  const network = await validateNetwork(r, {
    hostname: id?.hostname,
    rawDist: r.string('dist') ?? '',
    pickAutoIp: () => ctx.pickAutoIp(r),
  });
  const boot = validateBoot(r, `/dev/${disks?.disk.device ?? 'xvda2'}`, ctx.globalConfFile);
  const install = validateInstall(r, dist, boot?.useGuestKernel ?? true, boot?.type === 'hvm');
  const accounts = validateAccounts(r, install?.enabled ?? true);
  const hooks = validateHooks(r);
  if (install?.enabled === false) {
    const roles = hooks && hooks.roles.length + hooks.finalRoles.length > 0 ? ', no role is run' : '';
    warnings.push(
      `${r.what('install')} "0": the filesystem stays empty (no system, no password${roles}); install one into it before booting the guest`,
    );
  }
  const force = r.bool('force') ?? false;
  const output = validateOutput(r, id?.hostname, force);
  const flags = ['boot', 'keep', 'copyhosts', 'nohosts'].map((key) => r.bool(key) ?? false);
  if (flags[0] && install?.enabled === false) {
    // An empty filesystem cannot boot. A conf file's boot = 1 gives way to --install=0 on the
    // command line; asked for on the layer of install=0 or above, it is a contradiction.
    if (r.get('install')?.origin.kind !== 'cli' || r.get('boot')?.origin.kind !== 'file') {
      r.errors.add(
        'E_CONFLICT',
        `${r.what('boot')} and ${r.what('install')} "0" both given: an empty filesystem cannot boot`,
        'drop --boot, or leave --install out to install a system',
      );
    } else {
      warnings.push(`${r.what('boot')} is ignored with ${r.what('install')} "0": nothing to boot`);
      flags[0] = false;
    }
  }
  if (flags[1] === true) {
    // Unwinding is what keeps a failed build from leaving a half-made guest that a later run
    // (or xm create) would take for a real one; the log keeps what each step printed.
    r.errors.add(
      'E_UNSUPPORTED',
      `${r.what('keep')}: xenkit always removes what a failed build made`,
      'drop --keep; the run log (/var/log/xen-tools/NAME.log) keeps the output of every step, and --verbose shows it as it happens',
    );
  }
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
    ...(disks.extraSwaps && disks.extraSwaps.length > 0 ? { extraSwaps: disks.extraSwaps } : {}),
    ...(disks.volumes && disks.volumes.length > 0 ? { volumes: disks.volumes } : {}),
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
