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
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exportImage, pieceCount, type ExportedImage } from '../backup/export-image.js';
import type { Manifest, ManifestDisk } from '../backup/manifest.js';
import { lockRepository, openRepository, type Repository } from '../backup/repository.js';
import { runtimeError, usageError } from '../errors.js';
import { parseSize } from '../model/size.js';
import { underRoot, type Paths } from '../paths.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { identityOf } from '../plan/run-journal.js';
import { makeParents, removeIfSame, temporaryName } from '../storage/image-file.js';
import { compareImages, convertImage } from '../tools/qemu-img.js';
import { createSparseFilesTar } from '../tools/tar.js';
import { findSnapshot } from './backup-restore.js';

export const EXPORT_FORMATS = ['raw', 'qcow2', 'tar'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface BackupExportOptions {
  repoDir: string;
  /** A snapshot id, or a guest name (its newest snapshot). */
  ref: string;
  format: string;
  split: string | undefined;
  to: string;
  xenkitVersion: string;
}

export interface ExportedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ExportOutcome {
  snapshot: string;
  guest: string;
  format: ExportFormat;
  dir: string;
  /** Each disk: its SHA-256 as a raw image (of the pieces joined, when split). */
  disks: { target: string; vdev: string; size: number; sha256: string; pieces: number }[];
  files: ExportedFile[];
  ms: number;
}

/** One disk's output: the final names of its pieces (raw), or its one file (qcow2, tar staging). */
interface DiskJob {
  disk: ManifestDisk;
  finals: string[];
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
  const repo = openRepository(options.repoDir);
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

/** Opens a new file (0600) and registers its removal, journaled (a killed run's file is removed by the next). */
async function openNew(file: string, ctx: StepContext): Promise<fs.FileHandle> {
  const intent = ctx.undo.expect(`remove ${file}`, { kind: 'file', path: file });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'wx', 0o600);
  } catch (error) {
    intent.cancel();
    throw error;
  }
  intent.made({ kind: 'file', path: file, ...identityOf(await handle.stat()) });
  ctx.undo.push(`remove ${file}`, () => fs.rm(file, { force: true }), intent);
  return handle;
}

/** Runs `make`, which creates `file` (a tool's output), with its removal registered and journaled. */
async function madeBy(file: string, ctx: StepContext, make: () => Promise<unknown>): Promise<void> {
  const intent = ctx.undo.expect(`remove ${file}`, { kind: 'file', path: file });
  ctx.undo.push(`remove ${file}`, () => fs.rm(file, { force: true }), intent);
  await make();
  intent.made({ kind: 'file', path: file, ...identityOf(await fs.stat(file)) });
}

async function writeNew(file: string, text: string, ctx: StepContext): Promise<void> {
  const handle = await openNew(file, ctx);
  try {
    await handle.writeFile(text);
    await handle.chmod(0o644);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Links the finished `temp` to `final` (never over an existing file), then drops the temporary name. */
async function placeNew(temp: string, final: string, ctx: StepContext): Promise<void> {
  try {
    await fs.link(temp, final);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw runtimeError(
        'E_EXISTS',
        `${final} appeared during the export`,
        'export into a new directory',
        error,
      );
    }
    throw error;
  }
  const st = await fs.stat(final);
  const intent = ctx.undo.expect(`remove ${final}`, { kind: 'file', path: final, ...identityOf(st) });
  ctx.undo.push(`remove ${final}`, () => removeIfSame(final, st.dev, st.ino), intent);
  await fs.unlink(temp);
}

function damaged(manifest: Manifest, disk: ManifestDisk, error: unknown): unknown {
  if (error instanceof Error && !('code' in error)) {
    return runtimeError(
      'E_RESTORE_DAMAGED',
      `snapshot ${manifest.id}, disk ${disk.target}: ${error.message}`,
      'xenkit backup verify names every damaged chunk; export an older snapshot',
      error,
    );
  }
  return error;
}

async function exportRaw(
  repo: Repository,
  manifest: Manifest,
  job: DiskJob,
  tempOf: (final: string) => string,
  pieceSize: number | undefined,
  ctx: StepContext,
): Promise<ExportedImage> {
  ctx.reporter.info(
    `writing ${job.finals.length > 1 ? `${job.finals.length} pieces of ` : ''}${job.disk.target}`,
  );
  return exportImage(repo, job.disk, manifest.chunkSize, {
    pieceSize,
    openPiece: (i) => openNew(tempOf(job.finals[i]!), ctx),
    signal: ctx.signal,
  }).catch((error: unknown) => {
    throw damaged(manifest, job.disk, error);
  });
}

async function exportQcow2(
  repo: Repository,
  manifest: Manifest,
  disk: ManifestDisk,
  target: string,
  ctx: StepContext,
): Promise<ExportedImage> {
  const raw = temporaryName(target, 'raw');
  ctx.reporter.info(`writing ${disk.target} as qcow2`);
  const written = await exportImage(repo, disk, manifest.chunkSize, {
    openPiece: () => openNew(raw, ctx),
    signal: ctx.signal,
  }).catch((error: unknown) => {
    throw damaged(manifest, disk, error);
  });
  const exec = { sink: ctx.sink, signal: ctx.signal, timeoutMs: 3_600_000 };
  await madeBy(target, ctx, () =>
    convertImage({ source: raw, sourceFormat: 'raw', target, targetFormat: 'qcow2', compress: true }, exec),
  );
  if (!(await compareImages({ path: raw, format: 'raw' }, { path: target, format: 'qcow2' }, exec))) {
    throw runtimeError(
      'E_EXPORT',
      `the qcow2 image of ${disk.target} differs from the raw image it was converted from`,
      'check the free space and the disk of the export directory',
    );
  }
  await fs.chmod(target, 0o600);
  await fs.rm(raw, { force: true });
  return written;
}

/** The disks and cfg staged at their paths under `stage` (sparse), then `tar -cSf`. */
async function exportTar(
  repo: Repository,
  manifest: Manifest,
  stage: string,
  archive: string,
  member: (target: string) => string,
  ctx: StepContext,
): Promise<ExportOutcome['disks']> {
  const intent = ctx.undo.expect(`remove ${stage}`, { kind: 'tree', path: stage });
  await fs.mkdir(stage, { mode: 0o700 });
  intent.made({ kind: 'tree', path: stage, ...identityOf(await fs.stat(stage)) });
  ctx.undo.push(`remove ${stage}`, () => fs.rm(stage, { recursive: true, force: true }), intent);
  const out: ExportOutcome['disks'] = [];
  for (const disk of manifest.disks) {
    const file = path.join(stage, member(disk.target));
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
    ctx.reporter.info(`writing ${disk.target}`);
    const written = await exportImage(repo, disk, manifest.chunkSize, {
      openPiece: () => fs.open(file, 'wx', 0o600),
      signal: ctx.signal,
    }).catch((error: unknown) => {
      throw damaged(manifest, disk, error);
    });
    out.push({ target: disk.target, vdev: disk.vdev, size: disk.size, sha256: written.sha256, pieces: 1 });
  }
  const cfg = path.join(stage, member(manifest.cfgPath));
  await fs.mkdir(path.dirname(cfg), { recursive: true, mode: 0o755 });
  await fs.writeFile(cfg, manifest.cfgText, { mode: 0o644 });
  const members = [...manifest.disks.map((d) => d.target), manifest.cfgPath].map(member);
  await madeBy(archive, ctx, () =>
    createSparseFilesTar(stage, archive, members, { sink: ctx.sink, signal: ctx.signal }),
  );
  await fs.chmod(archive, 0o600);
  await fs.rm(stage, { recursive: true, force: true });
  return out;
}

/** SHA-256 of a file, streamed. */
async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const data of createReadStream(file, { highWaterMark: 1024 * 1024 }))
    hash.update(data as Buffer);
  return hash.digest('hex');
}

function renderReadme(manifest: Manifest, outcome: ExportOutcome, jobs: DiskJob[], version: string): string {
  const lines = [
    `Snapshot ${manifest.id} of guest ${manifest.guest} (taken ${manifest.time}), exported as ${outcome.format} by xenkit ${version}.`,
    '',
    'Check every file first:  sha256sum -c SHA256SUMS',
    '',
  ];
  const disks = new Map(outcome.disks.map((d) => [d.target, d]));
  if (outcome.format === 'tar') {
    lines.push(
      `${manifest.guest}.tar holds the disks (sparse) and the cfg at their paths. Put them back with:`,
      `  tar -xSf ${manifest.guest}.tar -C /`,
    );
  }
  for (const job of jobs) {
    const d = disks.get(job.disk.target);
    const base = path.basename(job.finals[0] ?? job.disk.target);
    if (outcome.format === 'qcow2') {
      lines.push(
        `${base}: ${job.disk.target} (${job.disk.vdev}) as a compressed qcow2; qemu-img convert -O raw gives the raw image back.`,
      );
    } else if (outcome.format === 'raw' && job.finals.length > 1) {
      const name = base.replace(/\.\d+$/, '');
      lines.push(
        `${name}: ${job.disk.target} (${job.disk.vdev}) in ${job.finals.length} pieces. Join them (holes kept) and check the result:`,
        `  cat ${name}.* | dd of=${name} bs=1M conv=sparse status=none`,
        `  echo '${d?.sha256 ?? ''}  ${name}' | sha256sum -c`,
        `(cat ${name}.* > ${name} gives the same bytes, with the holes filled in.)`,
      );
    } else if (outcome.format === 'raw') {
      lines.push(
        `${base}: ${job.disk.target} (${job.disk.vdev}), a sparse raw image (copy it with cp --sparse=always).`,
      );
    }
  }
  if (outcome.format !== 'tar') {
    lines.push(
      `${manifest.guest}.cfg: the guest's cfg as it was (${manifest.cfgPath}); its disk paths name the original images.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
