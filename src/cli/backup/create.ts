/** `xenkit backup create NAME...`: a snapshot of each stopped guest. */
import type { Command } from 'commander';
import { buildBackupCreatePlan, type BackupCreateOutcome } from '../../images/backup-create.js';
import { recoverDeadRuns } from '../../images/recover.js';
import { packageVersion } from '../package-version.js';
import { createDefaultDriver } from '../xm/default-deps.js';
import { pathsFor, writeJson, type ImageCommandDeps } from '../images/deps.js';
import {
  humanBytes,
  printPlan,
  KEY_HELP,
  REPO_HELP,
  repoDirFor,
  repoSecretFor,
  runPlan,
  type RepoFlags,
} from './common.js';

interface CreateFlags extends RepoFlags {
  dryRun?: boolean;
  quiet?: boolean;
}

/** The text summary of a backup run. */
export function renderBackupCreate(outcome: BackupCreateOutcome): string {
  const lines: string[] = [];
  for (const s of outcome.snapshots) {
    lines.push(`Snapshot ${s.snapshot} of ${s.guest} in ${(s.ms / 1000).toFixed(2)} s`);
    for (const d of s.disks) {
      const how = d.isCacheHit ? 'unchanged (files cache), not read' : `read ${humanBytes(d.readBytes)}`;
      lines.push(
        `  ${d.vdev.padEnd(8)} ${d.target}  ${humanBytes(d.size)}, ${d.chunks - d.zeroChunks} of ${d.chunks} chunks with data, ${how}, ${d.newChunks} new chunks (${humanBytes(d.newBytes)})`,
      );
    }
    if (s.pointInTime) {
      const p = s.pointInTime;
      lines.push(
        `  running guest taken at one moment: ${p.method}; paused ${p.pausedMs} ms, disk requests held ${p.heldMs} ms, copy ${(p.copyMs / 1000).toFixed(2)} s`,
      );
    }
    lines.push(`  added ${humanBytes(s.newBytes)} to ${outcome.repo}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Registers `backup create`. */
export function addBackupCreate(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('create')
    .summary('back up guests (stopped or running) into the repository')
    .description(
      'Store a snapshot of each stopped guest NAME: its cfg and every image, cut in 4 MiB chunks named by ' +
        'their SHA-256, each stored once (brotli) however many snapshots and guests share it; all-zero ' +
        'and unallocated chunks take no room. An image unchanged since the last backup (same size, mtime, ' +
        'ctime and inode) is not read again. The manifest is written last: a snapshot is whole or absent. ' +
        'A running guest is taken at one point in time: under QEMU its disks are copied at one moment by a QMP ' +
        'block job while it keeps running (not paused); under Xen a guest on LVM is read from LVM snapshots ' +
        '(lvcreate --snapshot, removed afterwards; paused only while the snapshots of several volumes are made), ' +
        'any other is paused while its images are read; the summary says which and for how long. The copy is ' +
        'crash-consistent. Reads raw and qcow2 images and block devices (LVM volumes): a device has no extent map ' +
        'and no files cache, so every backup reads all of it (only new chunks are stored).',
    )
    .argument('<names...>', 'the guests to back up (stopped or running)')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (names: string[], flags: CreateFlags) => {
      const paths = pathsFor(deps, flags.root);
      // A run killed outright may have left an LVM snapshot of a running guest: the journal knows it.
      if (!flags.dryRun) await recoverDeadRuns(paths, (line) => deps.io.stderr.write(`${line}\n`));
      const { plan, outcome } = buildBackupCreatePlan(paths, {
        repoDir: repoDirFor(paths, flags.repo),
        secret: repoSecretFor(paths, flags.encryptionKey),
        names,
        xenkitVersion: packageVersion(),
        running: { xl: deps.xl },
        driverFor: (kind) => createDefaultDriver(kind, paths),
      });
      if (flags.dryRun) return printPlan(deps, plan, flags.json === true);
      await runPlan(deps, plan, flags, { paths, name: `backup create ${names.join(' ')}` });
      if (flags.json) writeJson(deps.io, { ok: true, ...outcome, snapshot: outcome.snapshots[0]?.snapshot });
      else deps.io.stdout.write(renderBackupCreate(outcome));
    });
}
