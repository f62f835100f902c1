/**
 * Between xl.cfg key/value maps and DomainConfig, with xl's defaults (xl.cfg(5), libxl):
 * type pv (or the legacy `builder = 'hvm'`), memory 32 MiB when neither memory nor maxmem is
 * given, maxmem = memory, vcpus 1, maxvcpus = vcpus, on_poweroff destroy, on_reboot restart,
 * on_crash destroy.
 */
import {
  TCG_CACHE_DEFAULT_MIB,
  TCG_CACHE_MIB_RANGE,
  XL_DEFAULT_MEMORY_MIB,
  type DiskConfig,
  type DomainConfig,
  type LifecycleAction,
  type VifConfig,
  type XlValue,
} from '../model/domain-config.js';
import { ErrorCollector, usageError } from '../errors.js';
import { formatDiskSpec, parseDiskSpec } from './xl-cfg-disk.js';
import { readXlNumber } from './xl-cfg-lexer.js';
import { formatVifSpec, parseVifSpec } from './xl-cfg-vif.js';

const ACTIONS: readonly LifecycleAction[] = [
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
];

/** Keys DomainConfig models; renderDomainConfig writes them from the typed fields. */
export const MODELLED_XL_KEYS: readonly string[] = [
  'name',
  'type',
  'builder',
  'memory',
  'maxmem',
  'vcpus',
  'maxvcpus',
  'kernel',
  'ramdisk',
  'root',
  'extra',
  'cmdline',
  'bootloader',
  'disk',
  'vif',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'xenkit_tcg_cache',
];

/** Maps a parsed key/value map onto a DomainConfig; every problem is reported at once. */
export function valuesToDomainConfig(values: Record<string, XlValue>, file = '<cfg>'): DomainConfig {
  const errors = new ErrorCollector();
  const bad = (key: string, problem: string, hint: string): undefined => {
    errors.add('E_XLCFG', `${file}: ${key} ${problem}`, hint);
    return undefined;
  };
  const str = (key: string): string | undefined => {
    const value = values[key];
    if (value === undefined) return undefined;
    if (Array.isArray(value))
      return bad(key, 'is a list but should be a single value', `write ${key} = 'VALUE'`);
    return String(value);
  };
  const int = (key: string): number | undefined => {
    const value = values[key];
    if (value === undefined) return undefined;
    if (typeof value === 'number') return value;
    const text = Array.isArray(value) ? undefined : value.trim();
    const parsed = text === undefined ? undefined : readXlNumber(text);
    if (parsed === undefined) {
      return bad(
        key,
        `= ${JSON.stringify(value)} is not a whole number`,
        `write ${key} = 512 (a number, MiB for memory)`,
      );
    }
    return parsed;
  };
  const list = (key: string): string[] => {
    const value = values[key];
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      bad(key, 'is a single value but should be a list', `write ${key} = [ '...' ]`);
      return [];
    }
    return value.map((item) => (Array.isArray(item) ? '' : String(item)));
  };
  const action = (key: string, fallback: LifecycleAction): LifecycleAction => {
    const value = str(key);
    if (value === undefined) return fallback;
    if (!(ACTIONS as readonly string[]).includes(value)) {
      bad(key, `= "${value}" is not an action`, `use one of ${ACTIONS.join(', ')}`);
      return fallback;
    }
    return value as LifecycleAction;
  };

  const name = str('name');
  if (name === undefined || name === '') bad('name', 'is missing', "every domain needs name = 'NAME'");
  const type = readType(str('type'), str('builder'), bad);
  const memory = int('memory');
  const maxmem = int('maxmem');
  const vcpus = int('vcpus') ?? 1;
  const disks: DiskConfig[] = [];
  for (const spec of list('disk')) {
    const disk = errors.attempt(() => parseDiskSpec(spec, file));
    if (disk) disks.push(disk.disk);
  }
  const vifs: VifConfig[] = list('vif').map((spec) => parseVifSpec(spec).vif);
  const tcgCache = int('xenkit_tcg_cache');
  const { min, max } = TCG_CACHE_MIB_RANGE;
  if (tcgCache !== undefined && (tcgCache < min || tcgCache > max)) {
    bad(
      'xenkit_tcg_cache',
      `= ${tcgCache} is out of range`,
      `give the TCG translation cache in MiB, from ${min} to ${max} (default ${TCG_CACHE_DEFAULT_MIB})`,
    );
  }
  const config: DomainConfig = {
    name: name ?? '',
    type,
    memory: memory ?? maxmem ?? XL_DEFAULT_MEMORY_MIB,
    maxmem: maxmem ?? memory ?? XL_DEFAULT_MEMORY_MIB,
    vcpus,
    maxvcpus: int('maxvcpus') ?? vcpus,
    kernel: str('kernel'),
    ramdisk: str('ramdisk'),
    root: str('root'),
    extra: str('extra'),
    cmdline: str('cmdline'),
    bootloader: str('bootloader'),
    disks,
    vifs,
    onPoweroff: action('on_poweroff', 'destroy'),
    onReboot: action('on_reboot', 'restart'),
    onCrash: action('on_crash', 'destroy'),
    ...(tcgCache !== undefined ? { tcgCacheMiB: tcgCache } : {}),
    raw: values,
  };
  errors.throwIfAny();
  return config;
}

function readType(
  type: string | undefined,
  builder: string | undefined,
  bad: (key: string, problem: string, hint: string) => undefined,
): DomainConfig['type'] {
  if (type !== undefined) {
    if (type === 'pv' || type === 'pvh' || type === 'hvm') return type;
    bad('type', `= "${type}" is not a guest type`, 'use pv, pvh or hvm');
    return 'pv';
  }
  if (builder === undefined || builder === 'generic') return 'pv';
  if (builder === 'hvm') return 'hvm';
  bad(
    'builder',
    `= "${builder}" is not a builder`,
    "use type = 'pv', 'pvh' or 'hvm' (builder is the old name)",
  );
  return 'pv';
}

/** The canonical key/value map of a DomainConfig: modelled keys from the typed fields, in a fixed
 * order, then every other key of `raw` as it is. */
export function domainConfigToValues(dc: DomainConfig): Record<string, XlValue> {
  if (dc.name === '') throw usageError('E_XLCFG', 'domain config has no name', 'set DomainConfig.name');
  const values: Record<string, XlValue> = {
    name: dc.name,
    type: dc.type,
    memory: dc.memory,
    maxmem: dc.maxmem,
  };
  values.vcpus = dc.vcpus;
  values.maxvcpus = dc.maxvcpus;
  const optional = {
    kernel: dc.kernel,
    ramdisk: dc.ramdisk,
    root: dc.root,
    extra: dc.extra,
    cmdline: dc.cmdline,
  };
  for (const [key, value] of Object.entries({ ...optional, bootloader: dc.bootloader })) {
    if (value !== undefined) values[key] = value;
  }
  values.disk = dc.disks.map(formatDiskSpec);
  values.vif = dc.vifs.map(formatVifSpec);
  values.on_poweroff = dc.onPoweroff;
  values.on_reboot = dc.onReboot;
  values.on_crash = dc.onCrash;
  if (dc.tcgCacheMiB !== undefined) values.xenkit_tcg_cache = dc.tcgCacheMiB;
  for (const [key, value] of Object.entries(dc.raw)) {
    if (!MODELLED_XL_KEYS.includes(key)) values[key] = value;
  }
  return values;
}
