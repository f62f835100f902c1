/** `xenkit doctor [--dry-run] [--json]`: clean up after every xenkit run that was killed outright. */
import type { Command } from 'commander';
import { describeRecovery, isDoctorClean, runDoctor, type DoctorReport } from '../images/recover.js';
import { makePaths, resolveRoot } from '../paths.js';
import type { CliIO } from './run-cli.js';

/** What `doctor` needs from outside. */
export interface DoctorCommandDeps {
  io: CliIO;
  /** Environment read for XENKIT_ROOT. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface DoctorFlags {
  root?: string;
  json?: boolean;
  dryRun?: boolean;
}

/** The text `doctor` prints for `report`. */
export function renderDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const run of report.runs) {
    if (report.dryRun) {
      lines.push(`interrupted run (pid ${run.pid}, ${run.command}) left:`);
      lines.push(
        ...(run.cleaned.length > 0 ? run.cleaned : ['nothing left but its journal']).map((l) => `  ${l}`),
      );
    } else {
      lines.push(describeRecovery(run));
    }
    lines.push(...run.left.map((l) => `  could not clean: ${l}`));
  }
  for (const temp of report.temporaries) {
    lines.push(`temporary directory of dead run (pid ${temp.pid}): ${temp.outcome}`);
  }
  for (const run of report.live) {
    lines.push(`running: pid ${run.pid} (${run.command}), left alone`);
  }
  if (report.runs.length === 0 && report.temporaries.length === 0) {
    lines.push('nothing to clean up: no interrupted xenkit run left anything behind');
  }
  return `${lines.join('\n')}\n`;
}

/** Adds `doctor` to `program`. */
export function addDoctorCommand(program: Command, deps: DoctorCommandDeps): void {
  program
    .command('doctor')
    .summary('clean up after xenkit runs that were killed (SIGKILL, power loss)')
    .description(
      'Find the journals of xenkit runs that died without unwinding (killed with SIGKILL, a crash, ' +
        'a power loss) and undo what each one recorded: stop its helper processes (only if pid, ' +
        'start time and program still match), unmount its mounts, detach its loop devices, remove ' +
        'its partial images, staging trees and temporary directories, put back what a --force ' +
        'run had moved aside and the files update-image replaced in a guest (policy-rc.d, ' +
        'resolv.conf), and give back an --ip=auto address it claimed. Nothing a journal does not name is touched; runs still going ' +
        'are left alone. Every guest-changing command already does this for its own guest before ' +
        'it starts; doctor does it for all guests at once. Exit status 0 when nothing is left.',
    )
    .option('--dry-run', 'only list what would be cleaned')
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (flags: DoctorFlags) => {
      const paths = makePaths(resolveRoot(flags.root, deps.env ?? process.env));
      const report = await runDoctor(paths, { dryRun: flags.dryRun === true });
      const isLeft = report.runs.some((r) => r.left.length > 0);
      if (flags.json) {
        deps.io.stdout.write(
          `${JSON.stringify({ ok: !isLeft, clean: isDoctorClean(report), ...report }, null, 2)}\n`,
        );
      } else {
        deps.io.stdout.write(renderDoctorReport(report));
      }
      if (isLeft) process.exitCode = 1;
    });
}
