/** `xenkit backup restore ID|NAME`: a snapshot made a guest again (or a copy with --as). */
import type { Command } from 'commander';
import { refillDrawnPools } from '../../customize/host-key-pool.js';
import { buildRestorePlan, type RestoreOutcome } from '../../images/backup-restore.js';
import { recoverDeadRuns } from '../../images/recover.js';
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

interface RestoreFlags extends RepoFlags {
  as?: string;
  dir?: string;
  lvm?: string;
  force?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
}

function renderRestore(o: RestoreOutcome, ms: number): string {
  const lines = [
    `Guest ${o.name} restored from snapshot ${o.snapshot}${o.name === o.source ? '' : ` of ${o.source}`} in ${(ms / 1000).toFixed(2)} s`,
  ];
  for (const image of o.images)
    lines.push(`  ${image.path}  ${humanBytes(image.size)} (${humanBytes(image.writtenBytes)} written)`);
  lines.push(`  config  ${o.cfgPath}${o.replaced ? ' (replaced the existing guest)' : ''}`);
  if (o.mac) lines.push(`  MAC     ${o.mac}`);
  for (const key of o.sshHostKeys) lines.push(`  SSH host key ${key.type.toUpperCase()} ${key.fingerprint}`);
  return `${lines.join('\n')}\n`;
}

/** Registers `backup restore`. */
export function addBackupRestore(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('restore')
    .summary('make a guest again from a snapshot (or a copy with --as)')
    .description(
      'Write the snapshot ID (or the newest snapshot of guest NAME) back as an ordinary guest: sparse images ' +
        'where they were (or in DIR/domains/NAME with --dir), its cfg in /etc/xen. Every chunk and each whole ' +
        'image is checked against the manifest. Transactional: a failure or Ctrl-C leaves nothing. An existing ' +
        'guest is replaced only with --force, and never while it runs. --as NEW restores a copy under another ' +
        'name with an identity of its own (MAC, SSH host keys, machine-id, filesystem UUIDs), as xenkit clone does. ' +
        'A guest backed up from LVM volumes is restored to image files: give --dir; ' +
        '/dev/VG/NAME-disk becomes DIR/domains/NAME/disk.img and its cfg says file: instead of phy:. ' +
        'Or give --lvm VG: each disk goes onto a new volume named as create-image names them (NAME-disk, ' +
        'NAME-swap, NAME-SECTION), zeroed in the kernel and written with its data blocks only, and the cfg ' +
        'says phy:/dev/VG/...; a volume that exists already is refused (--force or not), and a failure or ' +
        'Ctrl-C removes the volumes the run made.',
    )
    .argument('<ref>', 'a snapshot id, or a guest name (its newest snapshot)')
    .option('--as <name>', 'restore as a new guest NAME with its own identity')
    .option('--dir <dir>', 'put the images in DIR/domains/NAME (needed for a guest on LVM, unless --lvm)')
    .option(
      '--lvm <vg>',
      'restore onto new logical volumes /dev/VG/NAME-disk, NAME-swap, ... instead of image files',
    )
    .option('--force', 'replace an existing (stopped) guest of that name')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (ref: string, flags: RestoreFlags) => {
      const paths = pathsFor(deps, flags.root);
      if (!flags.dryRun) await recoverDeadRuns(paths, (line) => deps.io.stderr.write(`${line}\n`));
      const { plan, outcome } = await buildRestorePlan(paths, {
        repoDir: repoDirFor(paths, flags.repo),
        secret: repoSecretFor(paths, flags.encryptionKey),
        ref,
        as: flags.as,
        dir: flags.dir,
        lvm: flags.lvm,
        force: flags.force === true,
        running: { xl: deps.xl },
      });
      if (flags.dryRun) return printPlan(deps, plan, flags.json === true);
      const started = performance.now();
      try {
        await runPlan(deps, plan, flags, { paths, name: `backup restore ${ref} as ${outcome.name}` });
      } finally {
        if (outcome.name !== outcome.source) refillDrawnPools(paths.root, () => undefined);
      }
      const ms = Math.round(performance.now() - started);
      if (flags.json) writeJson(deps.io, { ok: true, ...outcome, totalMs: ms });
      else deps.io.stdout.write(renderRestore(outcome, ms));
    });
}
