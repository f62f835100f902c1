/** `xenkit backup export ID|NAME --format raw|qcow2|tar [--split SIZE] --to DIR`: files without xenkit. */
import type { Command } from 'commander';
import { buildExportPlan, type ExportOutcome } from '../../images/backup-export.js';
import { recoverDeadRuns } from '../../images/recover.js';
import { packageVersion } from '../package-version.js';
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

interface ExportFlags extends RepoFlags {
  format?: string;
  split?: string;
  to?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

function renderExport(o: ExportOutcome): string {
  const lines = [
    `Snapshot ${o.snapshot} of ${o.guest} exported as ${o.format} to ${o.dir} in ${(o.ms / 1000).toFixed(2)} s`,
  ];
  for (const d of o.disks)
    lines.push(`  ${d.vdev.padEnd(8)} ${d.target}  ${humanBytes(d.size)}  sha256 ${d.sha256}`);
  for (const f of o.files) lines.push(`  ${f.path}  ${humanBytes(f.size)}`);
  lines.push(`  check them with: cd ${o.dir} && sha256sum -c SHA256SUMS (README says how to use them)`);
  return `${lines.join('\n')}\n`;
}

/** Registers `backup export`. */
export function addBackupExport(backup: Command, deps: ImageCommandDeps): void {
  backup
    .command('export')
    .summary('write a snapshot out as raw images (split), qcow2 images or a tar')
    .description(
      'Write the snapshot ID (or the newest snapshot of guest NAME) to DIR as files that need no xenkit: ' +
        '--format raw gives each disk as a sparse raw image, with --split SIZE in pieces NAME.000, NAME.001, ... ' +
        'that `cat` joins back bit for bit; --format qcow2 gives compressed standalone qcow2 images; --format tar ' +
        'one sparse tar of the disks and the cfg at their paths (tar -xSf FILE -C / puts them back). Raw and qcow2 ' +
        'exports add the cfg as NAME.cfg. Every chunk is checked against its hash on the way, each disk against ' +
        "the manifest's digest; SHA256SUMS (sha256sum -c) and a README go with the files. Nothing is replaced: " +
        'the files are written under temporary names and named at the end; a failure leaves nothing.',
    )
    .argument('<ref>', 'a snapshot id, or a guest name (its newest snapshot)')
    .requiredOption('--format <format>', 'raw, qcow2 or tar')
    .requiredOption('--to <dir>', 'the directory to write to (made if missing; under --root)')
    .option('--split <size>', 'raw only: cut each disk into pieces of SIZE (e.g. 1G, 650M)')
    .option('--repo <dir>', REPO_HELP)
    .option('--encryption-key <file>', KEY_HELP)
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (ref: string, flags: ExportFlags) => {
      const paths = pathsFor(deps, flags.root);
      if (!flags.dryRun) await recoverDeadRuns(paths, (line) => deps.io.stderr.write(`${line}\n`));
      const { plan, outcome } = await buildExportPlan(paths, {
        repoDir: repoDirFor(paths, flags.repo),
        secret: repoSecretFor(paths, flags.encryptionKey),
        ref,
        format: flags.format ?? '',
        split: flags.split,
        to: flags.to ?? '',
        xenkitVersion: packageVersion(),
      });
      if (flags.dryRun) return printPlan(deps, plan, flags.json === true);
      await runPlan(deps, plan, flags, { paths, name: `backup export ${ref} to ${outcome.dir}` });
      if (flags.json) writeJson(deps.io, { ok: true, ...outcome });
      else deps.io.stdout.write(renderExport(outcome));
    });
}
