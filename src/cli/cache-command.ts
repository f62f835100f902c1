/** `xenkit cache list|verify|prune [--json]`: look after the root-tree cache under <cacheDir>/rootfs. */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { checksumImage } from '../install/rootfs-cache-image.js';
import {
  isEntry,
  listEntries,
  listLeftovers,
  lockEntry,
  removeEntryDir,
  rootfsCacheRoot,
  type EntryProblem,
  type RootfsEntry,
} from '../install/rootfs-cache-store.js';
import { makePaths, resolveRoot, type Paths } from '../paths.js';
import { isAlive } from '../plan/process-identity.js';
import { addHostKeyCommands } from './host-keys-command.js';
import type { CliIO } from './run-cli.js';

/** What the cache commands need from outside. */
export interface CacheCommandDeps {
  io: CliIO;
  /** Environment read for XENKIT_ROOT. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The clock (ages, --older-than). */
  now?: () => Date;
}

interface CommonFlags {
  root?: string;
  json?: boolean;
}

/** One entry as `list` and `--json` show it. */
export interface CacheEntryView {
  key: string;
  ok: boolean;
  problem?: string;
  release?: string;
  architecture?: string;
  variant?: string;
  installer?: string;
  mirror?: string;
  packages?: number;
  imageBytes?: number;
  allocatedBytes?: number;
  createdAt?: string;
  lastUsed?: string;
  ageSeconds?: number;
  path: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Parses `30d`, `12h`, `2w`, `90m`, `45s` into seconds. */
export function parseAge(text: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!match) {
    throw usageError(
      'E_AGE',
      `age "${text}" is not a duration`,
      'write a number and a unit: 30d, 12h, 2w, 90m',
    );
  }
  return Number(match[1]) * (UNITS[match[2] as string] ?? 1);
}

/** The view of one entry (or unusable entry directory). */
export function viewEntry(found: RootfsEntry | EntryProblem, now: Date): CacheEntryView {
  if (!isEntry(found)) return { key: found.key, ok: false, problem: found.reason, path: found.dir };
  const { manifest } = found;
  return {
    key: found.key,
    ok: true,
    release: manifest.fields.suite,
    architecture: manifest.fields.architecture,
    variant: manifest.fields.variant,
    installer: manifest.fields.installerVersion,
    mirror: manifest.fields.mirrors[0],
    packages: manifest.tree.packagesInstalled,
    imageBytes: manifest.image.bytes,
    allocatedBytes: found.allocatedBytes,
    createdAt: manifest.createdAt,
    lastUsed: found.lastUsed.toISOString(),
    ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(manifest.createdAt)) / 1000)),
    path: found.dir,
  };
}

/** `1.2G`-style sizes for the table. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)}${units[unit]}`;
}

/** `3d`, `5h`, `12m`, `40s`: how long ago. */
export function humanAge(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  return `${Math.max(0, Math.floor(seconds))}s`;
}

/** The `list` table. */
export function renderCacheTable(views: CacheEntryView[], now: Date): string {
  if (views.length === 0) return 'The root-tree cache is empty.\n';
  const rows = [
    ['KEY', 'RELEASE', 'ARCH', 'VARIANT', 'INSTALLER', 'PKGS', 'SIZE', 'AGE', 'LAST USED', 'STATUS'],
  ];
  for (const v of views) {
    const used = v.lastUsed ? humanAge((now.getTime() - Date.parse(v.lastUsed)) / 1000) + ' ago' : '-';
    rows.push([
      v.key.slice(0, 12),
      v.release ?? '-',
      v.architecture ?? '-',
      v.variant ?? '-',
      v.installer ?? '-',
      v.packages === undefined ? '-' : String(v.packages),
      v.allocatedBytes === undefined ? '-' : humanBytes(v.allocatedBytes),
      v.ageSeconds === undefined ? '-' : humanAge(v.ageSeconds),
      used,
      v.ok ? 'ok' : `unusable: ${v.problem ?? ''}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') +
    '\n'
  );
}

function pathsOf(flags: CommonFlags, deps: CacheCommandDeps): Paths {
  return makePaths(resolveRoot(flags.root, deps.env ?? process.env));
}

function write(deps: CacheCommandDeps, flags: CommonFlags, json: unknown, text: string): void {
  deps.io.stdout.write(flags.json ? JSON.stringify(json, null, 2) + '\n' : text);
}

/** Recomputes the checksums of every entry; returns each entry's verdict. */
export async function verifyCache(
  root: string,
): Promise<{ key: string; ok: boolean; problem?: string; sha256?: string }[]> {
  const results: { key: string; ok: boolean; problem?: string; sha256?: string }[] = [];
  for (const found of await listEntries(root)) {
    if (!isEntry(found)) {
      results.push({ key: found.key, ok: false, problem: found.reason });
      continue;
    }
    const sums = await checksumImage(found.imagePath);
    const { image } = found.manifest;
    const problem =
      sums.sha256 !== image.sha256
        ? `sha256 is ${sums.sha256}, the manifest says ${image.sha256}`
        : sums.dataCrc32 !== image.dataCrc32
          ? 'data CRC mismatch'
          : undefined;
    results.push({ key: found.key, ok: !problem, sha256: sums.sha256, ...(problem ? { problem } : {}) });
  }
  return results;
}

/** What prune removes: unusable entries and dead builds always; good ones by age or with `all`. */
export async function pruneCache(
  paths: Paths,
  options: { olderThanSeconds?: number; all?: boolean; now: Date },
): Promise<{ removed: { key: string; reason: string }[]; kept: number }> {
  const root = rootfsCacheRoot(paths.cacheDir);
  const removed: { key: string; reason: string }[] = [];
  let kept = 0;
  for (const found of await listEntries(root)) {
    const reason = !isEntry(found)
      ? `unusable: ${found.reason}`
      : options.all
        ? '--all'
        : options.olderThanSeconds !== undefined &&
            (options.now.getTime() - found.lastUsed.getTime()) / 1000 > options.olderThanSeconds
          ? `not used for ${humanAge((options.now.getTime() - found.lastUsed.getTime()) / 1000)}`
          : undefined;
    if (!reason) {
      kept++;
      continue;
    }
    // An entry being built or rebuilt right now is locked: leave it to its builder.
    const lock = await lockEntry(paths.lockDir, found.key, AbortSignal.abort()).catch(() => undefined);
    if (!lock) {
      kept++;
      continue;
    }
    try {
      await removeEntryDir(root, found.dir);
      removed.push({ key: found.key, reason });
    } finally {
      lock.release();
    }
  }
  for (const dir of await listLeftovers(root)) {
    const pid = Number(/^\.build-[0-9a-f]+-(\d+)-/.exec(dir.split('/').pop() ?? '')?.[1]);
    if (Number.isFinite(pid) && isAlive(pid)) continue;
    await removeEntryDir(root, dir);
    removed.push({ key: dir.split('/').pop() ?? dir, reason: 'left over by an interrupted build' });
  }
  return { removed, kept };
}

/** Adds `cache list`, `cache verify` and `cache prune` to `program`. */
export function addCacheCommands(program: Command, deps: CacheCommandDeps): void {
  const now = (): Date => deps.now?.() ?? new Date();
  const cache = program
    .command('cache')
    .description('the caches that make guest creation fast: root trees and spare host keys');
  const common = (c: Command): Command =>
    c
      .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
      .option('--json', 'machine-readable output');

  common(cache.command('list').description('list cache entries: key fields, size, age, last use')).action(
    async (flags: CommonFlags) => {
      const root = rootfsCacheRoot(pathsOf(flags, deps).cacheDir);
      const views = (await listEntries(root)).map((e) => viewEntry(e, now()));
      write(deps, flags, { ok: true, root, entries: views }, renderCacheTable(views, now()));
    },
  );

  common(cache.command('verify').description('recompute every entry checksum and report bad entries')).action(
    async (flags: CommonFlags) => {
      const root = rootfsCacheRoot(pathsOf(flags, deps).cacheDir);
      const results = await verifyCache(root);
      const bad = results.filter((r) => !r.ok);
      const text =
        results.map((r) => `${r.key}  ${r.ok ? 'ok' : `BAD: ${r.problem ?? ''}`}\n`).join('') +
        `${results.length} entr${results.length === 1 ? 'y' : 'ies'} checked, ${bad.length} bad\n`;
      write(deps, flags, { ok: bad.length === 0, root, results }, text);
      if (bad.length > 0) process.exitCode = 1;
    },
  );

  common(
    cache
      .command('prune')
      .description('remove unusable entries and dead builds; with --older-than or --all, good entries too')
      .option('--older-than <age>', 'also remove entries not used for AGE (30d, 12h, 2w)')
      .option('--all', 'remove every entry'),
  ).action(async (flags: CommonFlags & { olderThan?: string; all?: boolean }) => {
    const paths = pathsOf(flags, deps);
    const olderThanSeconds = flags.olderThan === undefined ? undefined : parseAge(flags.olderThan);
    const result = await pruneCache(paths, {
      ...(olderThanSeconds === undefined ? {} : { olderThanSeconds }),
      all: flags.all === true,
      now: now(),
    });
    const text =
      result.removed.map((r) => `removed ${r.key} (${r.reason})\n`).join('') +
      `${result.removed.length} removed, ${result.kept} kept\n`;
    write(deps, flags, { ok: true, ...result }, text);
  });

  addHostKeyCommands(cache, deps, common);
}
