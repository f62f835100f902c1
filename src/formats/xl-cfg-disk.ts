/**
 * xl disk specs (`disk = [ 'DISKSPEC', ... ]`), read as Xen's libxlu_disk_l.l reads them
 * (xl-disk-configuration(5)): comma separated `key=value` parameters, flags and positional
 * parameters `target, format, vdev, access`; the deprecated xend forms `tap:aio:/path,xvda2,w`,
 * `file:/path,xvda1,w`, `phy:/dev/vg/x,xvda1,w` (prefixes stripped, `raw:`/`qcow2:`/`vhd:` set
 * the format) and `hdc:cdrom`; `target=` eats the rest of the spec, commas included.
 */
import type { DiskConfig } from '../model/domain-config.js';
import { usageError, type XenkitError } from '../errors.js';

const FORMATS = new Set(['raw', 'qcow', 'qcow2', 'vhd', 'empty', 'qed']);
const FLAGS = new Set([
  'cdrom',
  'direct-io-safe',
  'discard',
  'no-discard',
  'colo',
  'no-colo',
  'trusted',
  'untrusted',
]);
// Named parameters other than the modelled ones; kept verbatim as extras.
const EXTRA_KEYS = new Set([
  'backend',
  'backendtype',
  'specification',
  'script',
  'colo-host',
  'colo-port',
  'colo-export',
  'active-disk',
  'hidden-disk',
  'grant_usage',
]);
const IGNORED_PREFIX = /^(tapdisk|tap2?|aio|ioemu|file|phy):/;
const FORMAT_PREFIX = /^(raw|qcow2?|vhd):/;
const SCRIPT_PREFIX = /^(iscsi|e?nbd|drbd):/;
const UNKNOWN_PREFIX = /^[a-z][a-z0-9]*:(?=[^a-z0-9]|$)/;

/** A parsed disk spec: the DiskConfig plus the parameters DiskConfig does not model. */
export interface ParsedDiskSpec {
  disk: DiskConfig;
  /** Parameters such as `backendtype=qdisk`, `script=block-iscsi` or `discard`, as written. */
  extras: string[];
}

function diskError(spec: string, where: string, problem: string, hint: string): XenkitError {
  return usageError('E_XLCFG', `${where}: disk "${spec}": ${problem}`, hint);
}

/** Parses one disk spec string; `where` names the cfg file (and key) in errors. */
export function parseDiskSpec(spec: string, where = '<cfg>'): ParsedDiskSpec {
  const fail = (
    problem: string,
    hint = 'see xl-disk-configuration(5), e.g. format=raw, vdev=xvda, access=rw, target=/path',
  ): never => {
    throw diskError(spec, where, problem, hint);
  };
  let target: string | undefined;
  let format: string | undefined;
  let vdev: string | undefined;
  let access: 'rw' | 'ro' | undefined;
  let isCdrom = false;
  let accessSet = false;
  let hadPrefix = false;
  const extras: string[] = [];
  const setFormat = (value: string): void => {
    const f = value === '' ? 'raw' : value;
    if (!FORMATS.has(f)) fail(`unknown format "${value}"`, `use one of ${[...FORMATS].join(', ')}`);
    if (format !== undefined && format !== f) fail(`format given twice ("${format}" and "${f}")`);
    format = f;
  };
  const setAccess = (value: string): void => {
    accessSet = true;
    if (value === 'r' || value === 'ro') access = 'ro';
    else if (value === 'w' || value === 'rw') access = 'rw';
    else if (value === '')
      accessSet = true; // empty means the default, which depends on cdrom
    else fail(`unknown access "${value}"`, 'use rw (or w) for read-write, ro (or r) for read-only');
  };
  const setVdev = (value: string): void => {
    if (vdev) fail(`vdev given twice ("${vdev}" and "${value}")`);
    vdev = value;
  };
  // `hdc:cdrom`: the deprecated vdev with a device type.
  const setVdevAndType = (value: string): boolean => {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return false;
    const type = value.slice(colon + 1);
    if (type !== 'cdrom' && type !== 'disk')
      fail(`unknown device type "${type}"`, 'use hdc:cdrom or devtype=cdrom');
    setVdev(value.slice(0, colon));
    isCdrom = type === 'cdrom';
    return true;
  };

  let rest = spec;
  while (rest.length > 0) {
    const first = rest.charCodeAt(0);
    if (first === 32 || first === 9 || first === 10) rest = rest.replace(/^[ \t\n]+/, '');
    if (rest === '') break;
    if (rest.startsWith('target=')) {
      target = rest.slice('target='.length).replace(/,$/, '');
      break;
    }
    // Each pattern is tried only when the ones before it failed: a listing reads every disk of
    // every cfg, and most pieces are a prefix or a positional parameter.
    const named = /^([a-z][-a-z0-9_]*)=([^,]*),?/.exec(rest);
    const flag = named ? null : /^([a-z][-a-z0-9]*)(,|$)/.exec(rest);
    const prefix =
      named || (flag && FLAGS.has(flag[1] as string))
        ? null
        : (FORMAT_PREFIX.exec(rest) ?? SCRIPT_PREFIX.exec(rest) ?? IGNORED_PREFIX.exec(rest));
    if (named) {
      const [text, key = '', value = ''] = named;
      rest = rest.slice(text.length);
      if (key === 'format') setFormat(value);
      else if (key === 'access') setAccess(value);
      else if (key === 'vdev') setVdev(value);
      else if (key === 'devtype') {
        if (value !== 'cdrom' && value !== 'disk')
          fail(`unknown devtype "${value}"`, 'devtype=cdrom is the only device type');
        isCdrom = value === 'cdrom';
      } else if (EXTRA_KEYS.has(key)) extras.push(`${key}=${value}`);
      else fail(`unknown parameter "${key}"`);
    } else if (flag && FLAGS.has(flag[1] as string)) {
      rest = rest.slice((flag[0] as string).length);
      if (flag[1] === 'cdrom') isCdrom = true;
      else extras.push(flag[1] as string);
    } else if (prefix) {
      rest = rest.slice((prefix[0] as string).length);
      hadPrefix = true;
      if (FORMAT_PREFIX.test(prefix[0] as string)) setFormat(prefix[1] as string);
      else if (SCRIPT_PREFIX.test(prefix[0] as string)) extras.push(`script=block-${prefix[1] as string}`);
    } else if (UNKNOWN_PREFIX.test(rest)) {
      fail(
        `unknown prefix "${(UNKNOWN_PREFIX.exec(rest) as RegExpExecArray)[0]}"`,
        'xl knows the prefixes phy: file: tap:aio: raw: qcow2: vhd:',
      );
    } else {
      const piece = /^([^=,]*),|^([^=,]+)$/.exec(rest);
      if (!piece) fail(`cannot read "${rest}"`);
      const matched = piece as RegExpExecArray;
      const value = matched[1] ?? matched[2] ?? '';
      rest = rest.slice(matched[0].length);
      if (target === undefined) target = value;
      else if (!hadPrefix && format === undefined) {
        if (target === '' && setVdevAndType(value)) format = 'empty';
        else setFormat(value);
      } else if (vdev === undefined) {
        if (!setVdevAndType(value)) setVdev(value);
      } else if (!accessSet) setAccess(value);
      else fail(`too many positional parameters at "${value}"`);
    }
  }
  if (!vdev)
    fail(
      'no vdev (guest device name)',
      "name the guest device, e.g. 'file:/path/disk.img,xvda2,w' or vdev=xvda",
    );
  return {
    disk: {
      target: target ?? '',
      format: format ?? 'raw',
      vdev: vdev as string,
      access: access ?? (isCdrom ? 'ro' : 'rw'),
      isCdrom,
      raw: spec,
    },
    extras,
  };
}

/** The canonical modern spec for a DiskConfig: `format=…, vdev=…, access=…, [devtype=cdrom, ]target=…`,
 * keeping the unmodelled parameters (backendtype, script, …) found in `disk.raw`. */
export function formatDiskSpec(disk: DiskConfig): string {
  let extras: string[] = [];
  try {
    if (disk.raw) extras = parseDiskSpec(disk.raw).extras;
  } catch {
    extras = [];
  }
  const parts = [`format=${disk.format}`, `vdev=${disk.vdev}`, `access=${disk.access}`];
  if (disk.isCdrom) parts.push('devtype=cdrom');
  parts.push(...extras, `target=${disk.target}`);
  return parts.join(', ');
}
