/**
 * `xenkit backup export ID|NAME --format raw|qcow2|tar [--split SIZE] --to DIR`: a snapshot
 * written out as files that need no xenkit to use. raw: each disk a sparse image (or pieces of
 * SIZE that `cat` joins); qcow2: each disk a compressed standalone qcow2 (qemu-img convert -c from
 * the raw image, compared with it by qemu-img compare before the raw one goes); tar: one sparse
 * tar of the disks and the cfg at their paths (`tar -xSf FILE -C /` puts them back). Always a
 * SHA256SUMS that `sha256sum -c` checks and a README saying how to use the files.
 *
 * Every file is written under a hidden temporary name in DIR and linked to its final name only at
 * the end (a name that appeared meanwhile is never replaced); a failure or Ctrl-C removes what
 * this run wrote, temporaries and placed files alike.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pieceCount } from '../backup/export-image.js';
import type { Manifest } from '../backup/manifest.js';
import { lockRepository, openRepository, type RepoSecret } from '../backup/repository.js';
import { usageError } from '../errors.js';
import { parseSize } from '../model/size.js';
import { underRoot, type Paths } from '../paths.js';
import type { Plan, PlanStep } from '../plan/plan.js';
import { makeParents, temporaryName } from '../storage/image-file.js';
import { findSnapshot } from './backup-restore.js';
import {
  exportQcow2,
  exportRaw,
  exportTar,
  placeNew,
  renderReadme,
  sha256OfFile,
  writeNew,
  type DiskJob,
  type ExportFormat,
  type ExportOutcome,
  EXPORT_FORMATS,
} from './backup-export-files.js';

export { EXPORT_FORMATS } from './backup-export-files.js';
export type { ExportedFile, ExportFormat, ExportOutcome } from './backup-export-files.js';

export interface BackupExportOptions {
  repoDir: string;
  /** The key file of an encrypted repository (`--encryption-key`); with create, makes a new one encrypted. */
  secret?: RepoSecret | undefined;
  /** A snapshot id, or a guest name (its newest snapshot). */
  ref: string;
  format: string;
  split: string | undefined;
  to: string;
  xenkitVersion: string;
}

/** Checks the format, the split size, the snapshot and that no output exists; builds the plan. */
export async function buildExportPlan(
  paths: Paths,
  options: BackupExportOptions,
): Promise<{ plan: Plan; outcome: ExportOutcome }> {
  const format = checkFormat(options.format);
  const pieceSize = options.split === undefined ? undefined : parseSize(options.split, '--split', {});
  if (pieceSize !== undefined && format !== 'raw') {
    throw usageError(
      'E_USAGE',
      `--split is for --format raw, not ${format}`,
      'export raw pieces with --format raw --split SIZE',
    );
  }
  if (pieceSize !== undefined && pieceSize < 1024 * 1024) {
    throw usageError(
      'E_SIZE',
      `--split "${options.split}" is below 1 MiB`,
      'e.g. --split 1G or --split 650M',
    );
  }
  const repo = openRepository(options.repoDir, options.secret);
  const manifest = await findSnapshot(repo, options.ref);
  const dir = underRoot(paths, options.to);
  const jobs = diskJobs(manifest, format, dir, pieceSize);
  const tarFile = path.join(dir, `${manifest.guest}.tar`);
  const cfgFile = path.join(dir, `${manifest.guest}.cfg`);
  const sums = path.join(dir, 'SHA256SUMS');
  const readme = path.join(dir, 'README');
  const finals = [
    ...(format === 'tar' ? [tarFile] : [...jobs.flatMap((j) => j.finals), cfgFile]),
    sums,
    readme,
  ];
  const existing = finals.filter((f) => existsSync(f));
  if (existing.length > 0) {
    throw usageError(
      'E_EXISTS',
      `${existing.join(', ')} ${existing.length > 1 ? 'exist' : 'exists'} already`,
      'export into an empty or new directory (--to DIR); an export never replaces a file',
    );
  }
  const outcome: ExportOutcome = {
    snapshot: manifest.id,
    guest: manifest.guest,
    format,
    dir,
    disks: [],
    files: [],
    ms: 0,
  };
  const temps = new Map<string, string>();
  const tempOf = (final: string): string => {
    let temp = temps.get(final);
    if (!temp) temps.set(final, (temp = temporaryName(final, 'export')));
    return temp;
  };
  const started = performance.now();
  const steps: PlanStep[] = [
    {
      id: 'export.lock',
      title: `Lock the repository ${repo.dir}; make ${dir}`,
      actions: [
        { kind: 'note', text: 'take the repository lock (a prune meanwhile would free the chunks)' },
        { kind: 'mkdir', path: dir, mode: 0o755 },
      ],
      run: async (ctx) => {
        const lock = await lockRepository(repo);
        ctx.undo.push(`release the lock of ${repo.dir}`, () => lock.release());
        ctx.undo.afterCommit(`release the lock of ${repo.dir}`, () => lock.release());
        await makeParents(dir, ctx);
      },
    },
    {
      id: 'export.disks',
      title: `Write the disks of snapshot ${manifest.id} as ${format}${pieceSize ? ` in pieces of ${options.split}` : ''}`,
      actions: jobs.flatMap((j) => [
        ...j.finals.map((f) => ({ kind: 'write' as const, path: tempOf(f), mode: 0o600 })),
        ...(format === 'qcow2'
          ? [
              {
                kind: 'run' as const,
                argv: ['qemu-img', 'convert', '-c', '-f', 'raw', '-O', 'qcow2', 'RAW', tempOf(j.finals[0]!)],
              },
            ]
          : []),
      ]),
      run: async (ctx) => {
        if (format === 'tar') {
          const stage = temporaryName(tarFile, 'stage');
          // Paths in the tar as seen under the root: `tar -xSf -C ROOT` puts them back.
          const member = (p: string): string => {
            const host = underRoot(paths, p);
            const inRoot = path.relative(paths.root, host);
            return inRoot.startsWith('..') ? path.relative('/', p) : inRoot;
          };
          outcome.disks = await exportTar(repo, manifest, stage, tempOf(tarFile), member, ctx);
        } else {
          for (const job of jobs) {
            const written =
              format === 'raw'
                ? await exportRaw(repo, manifest, job, tempOf, pieceSize, ctx)
                : await exportQcow2(repo, manifest, job.disk, tempOf(job.finals[0]!), ctx);
            outcome.disks.push({
              target: job.disk.target,
              vdev: job.disk.vdev,
              size: job.disk.size,
              sha256: written.sha256,
              pieces: written.pieces.length,
            });
          }
          await writeNew(tempOf(cfgFile), manifest.cfgText, ctx);
        }
      },
    },
    {
      id: 'export.place',
      title: `Write SHA256SUMS and README; give every file its name in ${dir}`,
      actions: [
        { kind: 'write', path: sums, mode: 0o644 },
        { kind: 'write', path: readme, mode: 0o644 },
        ...finals.map((f) => ({ kind: 'run' as const, argv: ['ln', tempOf(f), f] })),
      ],
      run: async (ctx) => {
        const payload = finals.filter((f) => f !== sums && f !== readme);
        for (const f of payload) {
          const { size } = await fs.stat(tempOf(f));
          outcome.files.push({ path: f, size, sha256: await sha256OfFile(tempOf(f)) });
        }
        const lines = outcome.files.map((f) => `${f.sha256}  ${path.basename(f.path)}\n`);
        await writeNew(tempOf(sums), lines.join(''), ctx);
        await writeNew(tempOf(readme), renderReadme(manifest, outcome, jobs, options.xenkitVersion), ctx);
        for (const f of finals) await placeNew(tempOf(f), f, ctx);
        outcome.ms = Math.round(performance.now() - started);
      },
    },
  ];
  return { plan: { subject: `export ${manifest.id} as ${format}`, steps }, outcome };
}

function checkFormat(text: string): ExportFormat {
  const found = EXPORT_FORMATS.find((f) => f === text);
  if (!found) {
    throw usageError(
      'E_USAGE',
      `--format "${text}" is not one of ${EXPORT_FORMATS.join(', ')}`,
      'raw: sparse images (with --split SIZE: pieces); qcow2: compressed images; tar: one sparse tar',
    );
  }
  return found;
}

/** The output names of each disk: `disk.img` (or `disk.img.000`...), `disk.qcow2`; tar stages them. */
function diskJobs(
  manifest: Manifest,
  format: ExportFormat,
  dir: string,
  pieceSize: number | undefined,
): DiskJob[] {
  const bases = manifest.disks.map((d) => path.basename(d.target));
  return manifest.disks.map((disk, i) => {
    // Two disks of one name in different directories: the device tells them apart.
    const base =
      bases.indexOf(bases[i]!) === i && bases.lastIndexOf(bases[i]!) === i
        ? bases[i]!
        : `${disk.vdev}-${bases[i]!}`;
    if (format === 'qcow2')
      return { disk, finals: [path.join(dir, `${base.replace(/\.(img|raw)$/, '')}.qcow2`)] };
    if (format === 'tar') return { disk, finals: [] };
    const count = pieceCount(disk.size, pieceSize);
    if (pieceSize === undefined) return { disk, finals: [path.join(dir, base)] };
    const width = Math.max(3, String(count - 1).length);
    return {
      disk,
      finals: Array.from({ length: count }, (_, n) =>
        path.join(dir, `${base}.${String(n).padStart(width, '0')}`),
      ),
    };
  });
}
