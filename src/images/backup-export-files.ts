/**
 * The files `xenkit backup export` writes (see backup-export.ts for the plan): the formats' own
 * writers (raw images or pieces, qcow2 through qemu-img, one sparse tar), the README, and new
 * files made under temporary names, journaled and linked into place, never over an existing name.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exportImage, type ExportedImage } from '../backup/export-image.js';
import type { Manifest, ManifestDisk } from '../backup/manifest.js';
import type { Repository } from '../backup/repository.js';
import { runtimeError } from '../errors.js';
import type { StepContext } from '../plan/plan.js';
import { identityOf } from '../plan/run-journal.js';
import { removeIfSame, temporaryName } from '../storage/image-file.js';
import { compareImages, convertImage } from '../tools/qemu-img.js';
import { createSparseFilesTar } from '../tools/tar.js';

export const EXPORT_FORMATS = ['raw', 'qcow2', 'tar'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

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
export interface DiskJob {
  disk: ManifestDisk;
  finals: string[];
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

export async function writeNew(file: string, text: string, ctx: StepContext): Promise<void> {
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
export async function placeNew(temp: string, final: string, ctx: StepContext): Promise<void> {
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

export async function exportRaw(
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

export async function exportQcow2(
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
export async function exportTar(
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
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const data of createReadStream(file, { highWaterMark: 1024 * 1024 }))
    hash.update(data as Buffer);
  return hash.digest('hex');
}

export function renderReadme(
  manifest: Manifest,
  outcome: ExportOutcome,
  jobs: DiskJob[],
  version: string,
): string {
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
