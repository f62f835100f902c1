/**
 * `--partitions=FILE`: a xen-tools layout file -> the root disk, the swap and the other volumes.
 * The rules are xen-create-image 4.9.2's (loadAndCheckPartitionsFile): section names of letters,
 * digits and "-", a size with a unit, a type it can make, an absolute mount point, options without
 * blanks or ":", a "/" volume. Its numbering too: sorted by the length of the mount point (swap,
 * with none, first; ties in file order), the Nth is partition N of the disk (xvda1, xvda2, ...).
 * Several swap sections make several swap volumes, as xen-tools does. Beyond xen-tools: a second
 * "/" or a repeated mount point and unknown keys are refused instead of silently making a guest
 * that cannot boot.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XenkitError } from '../errors.js';
import { escapeControlChars } from '../log/escape-control.js';
import { MIN_SIZE } from '../model/fs-limits.js';
import type { DiskSpec, FsType, StorageSpec, SwapSpec, VolumeSpec } from '../model/guest-spec.js';
import { parseSize } from '../model/size.js';
import { parsePartitionsFile, type PartitionsSection } from '../formats/partitions-file.js';
import { FILESYSTEMS } from './options.js';
import type { SettingsReader } from './settings-reader.js';
import { diskBase, mkfsCommandFor } from './validate-storage.js';

/** The guest's volumes as a layout file gives them. */
export interface PartitionLayout {
  disk: DiskSpec;
  swap: SwapSpec | undefined;
  /** The swap sections after the first, in partition order. */
  extraSwaps: SwapSpec[];
  /** Filesystems other than "/", parents before children. */
  volumes: VolumeSpec[];
}

const NAME_RE = /^[a-zA-Z0-9-]+$/;
const MOUNTPOINT_RE = /^\/[^: \t\r\n]*$/;
const OPTIONS_RE = /^[^: \t\r\n]*$/;
const KEYS = new Set(['size', 'type', 'mountpoint', 'options']);
// Xen's blkfront gives each xvd disk 15 partition minors.
const MAX_PARTITIONS = 15;

interface Entry {
  name: string;
  size: number;
  type: FsType | 'swap';
  mountpoint: string;
  options: string;
}

/** Reads and checks the layout file; every problem goes to `r.errors`, naming file and line. */
export function validatePartitions(
  r: SettingsReader,
  file: string,
  storage: StorageSpec | undefined,
): PartitionLayout | undefined {
  const before = r.errors.errors.length;
  const where = `${r.what('partitions')} ${file}`;
  const fail = (line: number | undefined, problem: string, hint: string): void =>
    r.errors.add('E_PARTITIONS', `${where}${line ? `:${line}` : ''}: ${escapeControlChars(problem)}`, hint);
  if (storage?.kind === 'device') {
    fail(
      undefined,
      'cannot be used with --image-dev',
      'choose one: a layout (--dir or --lvm) or --image-dev',
    );
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    fail(undefined, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the file');
    return undefined;
  }
  const parsed = parsePartitionsFile(text);
  for (const e of parsed.errors)
    fail(
      e.line,
      e.message,
      'write one [name] line per volume, then size=, type=, mountpoint=, options= lines',
    );
  const entries: Entry[] = [];
  for (const section of parsed.sections) {
    const entry = readSection(section, fail);
    if (entry) entries.push(entry);
  }
  checkWhole(entries, parsed.sections, fail);
  if (r.errors.errors.length > before) return undefined;
  return layoutOf(r, entries);
}

function readSection(
  section: PartitionsSection,
  fail: (line: number | undefined, problem: string, hint: string) => void,
): Entry | undefined {
  const { name } = section;
  let ok = true;
  const bad = (line: number, problem: string, hint: string): void => {
    ok = false;
    fail(line, `[${name}] ${problem}`, hint);
  };
  if (!NAME_RE.test(name))
    bad(
      section.line,
      'is not a volume name',
      'use letters, digits and "-" only (it names the image or volume)',
    );
  for (const [key, { line }] of section.keys) {
    if (!KEYS.has(key))
      bad(line, `has an unknown key "${key}"`, 'the keys are size, type, mountpoint and options');
  }
  const size = section.keys.get('size');
  const type = section.keys.get('type');
  let bytes = 0;
  if (!size) bad(section.line, 'has no size=', 'add size=, e.g. size=1G or size=512M');
  else if (!/[a-z]\s*$/i.test(size.value))
    bad(size.line, `size "${size.value}" has no unit`, `add one: ${size.value}M or ${size.value}G`);
  else {
    try {
      bytes = parseSize(size.value, 'size');
    } catch (error) {
      if (!(error instanceof XenkitError)) throw error;
      bad(size.line, error.message, error.hint ?? 'write a number with a unit, e.g. 512M or 1.5G');
    }
  }
  const typeText = type?.value.toLowerCase() ?? '';
  const isFs = (FILESYSTEMS as readonly string[]).includes(typeText);
  if (!type) bad(section.line, 'has no type=', `add type=, one of swap, ${FILESYSTEMS.join(', ')}`);
  else if (typeText !== 'swap' && !isFs)
    bad(type.line, `type "${type.value}" is not one xenkit makes`, `use swap, ${FILESYSTEMS.join(', ')}`);
  if (typeText === 'swap')
    return ok ? { name, size: bytes, type: 'swap', mountpoint: '', options: '' } : undefined;
  const mount = section.keys.get('mountpoint');
  let mountpoint = '';
  if (!mount)
    bad(section.line, 'has no mountpoint=', 'add mountpoint=/ for the root volume, or e.g. mountpoint=/home');
  else if (!MOUNTPOINT_RE.test(mount.value) || mount.value.split('/').some((p) => p === '.' || p === '..'))
    bad(mount.line, `mount point "${mount.value}" is not an absolute path`, 'write e.g. /home or /var/tmp');
  else mountpoint = path.posix.normalize(mount.value).replace(/(.)\/$/, '$1');
  const options = section.keys.get('options');
  if (options && !OPTIONS_RE.test(options.value))
    bad(
      options.line,
      `options "${options.value}" hold a blank or ":"`,
      'write them comma separated, e.g. nodev,nosuid',
    );
  const min = MIN_SIZE[typeText as FsType];
  if (size && bytes > 0 && min !== undefined && bytes < min)
    bad(
      size.line,
      `size "${size.value}" is too small for ${typeText} (at least ${min / 1024 ** 2}M)`,
      `make it ${min / 1024 ** 2}M or more, or choose another type`,
    );
  if (!ok || !isFs) return undefined;
  return { name, size: bytes, type: typeText as FsType, mountpoint, options: options?.value || 'defaults' };
}

function checkWhole(
  entries: Entry[],
  sections: PartitionsSection[],
  fail: (line: number | undefined, problem: string, hint: string) => void,
): void {
  const lineOf = (name: string): number | undefined => sections.find((s) => s.name === name)?.line;
  if (sections.length === 0) {
    fail(undefined, 'holds no [section]', 'see /etc/xen-tools/partitions.d/sample-server for the format');
    return;
  }
  const seen = new Map<string, string>();
  for (const e of entries) {
    if (e.type === 'swap') continue;
    const key = e.mountpoint;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, e.name);
    else
      fail(
        lineOf(e.name),
        `[${e.name}] mounts ${key} again (first: [${first}])`,
        'give each volume its own mount point',
      );
  }
  const named = new Set(sections.map((s) => s.keys.get('mountpoint')?.value.trim()));
  if (!entries.some((e) => e.mountpoint === '/') && !named.has('/'))
    fail(undefined, 'has no volume for "/"', 'add a section with mountpoint=/ (the root filesystem)');
  if (sections.length > MAX_PARTITIONS)
    fail(
      undefined,
      `has ${sections.length} volumes`,
      `a Xen disk has at most ${MAX_PARTITIONS} partitions: merge some`,
    );
}

function layoutOf(r: SettingsReader, entries: Entry[]): PartitionLayout | undefined {
  // Array.prototype.sort is stable: equal lengths keep the file's order, as Perl's sort does.
  const sorted = [...entries].sort((a, b) => a.mountpoint.length - b.mountpoint.length);
  const base = diskBase(r);
  let disk: DiskSpec | undefined;
  const swaps: SwapSpec[] = [];
  const volumes: VolumeSpec[] = [];
  sorted.forEach((e, index) => {
    const device = `${base}${index + 1}`;
    if (e.type === 'swap') {
      swaps.push({ size: e.size, device, name: e.name });
      return;
    }
    const mkfsCommand = mkfsCommandFor(r, e.type);
    if (e.mountpoint === '/')
      disk = {
        size: e.size,
        fs: e.type,
        mountOptions: e.options,
        mkfsCommand,
        format: true,
        device,
        name: e.name,
      };
    else
      volumes.push({
        name: e.name,
        size: e.size,
        fs: e.type,
        mountpoint: e.mountpoint,
        mountOptions: e.options,
        mkfsCommand,
        device,
      });
  });
  const [swap, ...extraSwaps] = swaps;
  return disk ? { disk, swap, extraSwaps, volumes } : undefined;
}
