/** `xenkit reset-identity NAME`: new SSH host keys, machine-id, UUIDs, random seed and MAC for a stopped guest. */
import type { Command } from 'commander';
import { refillDrawnPools } from '../../customize/host-key-pool.js';
import { buildResetIdentityPlan, type ResetOutcome } from '../../images/reset-identity-plan.js';
import { RunLog } from '../../log/run-log.js';
import { planToJSON } from '../../plan/plan.js';
import { recoverBeforeRun, runPlan, startProgress } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import { pathsFor, writeJson, type ImageCommandDeps } from './deps.js';
import { logPathOf } from '../../images/guest-files.js';

/** What changed, as text. */
export function renderReset(outcome: ResetOutcome): string {
  const lines = [`Guest ${outcome.name} has a new identity:`, ''];
  lines.push(
    `  MAC           ${outcome.mac.before ?? '(none)'} -> ${outcome.mac.after}  (${outcome.cfgPath})`,
  );
  for (const disk of outcome.disks) {
    if (disk.newUuid)
      lines.push(
        `  ${disk.vdev.padEnd(12)}  UUID ${disk.oldUuid ?? '?'} -> ${disk.newUuid}  (${disk.fsType ?? '?'}, ${disk.source})`,
      );
  }
  if (outcome.uuidFiles.length > 0) lines.push(`  UUIDs in      ${outcome.uuidFiles.join(', ')}`);
  const id = outcome.machineId.before;
  lines.push(
    `  machine-id    ${id === undefined ? '(none)' : id === '' ? '(empty)' : id} -> (empty: systemd makes a new one at the next boot)`,
  );
  lines.push('  random seed   new, 512 bytes from the host');
  lines.push('  SSH host keys:');
  for (const key of outcome.sshHostKeys.before)
    lines.push(`    - ${key.type.padEnd(8)} ${String(key.bits).padStart(5)}  ${key.fingerprint}`);
  for (const key of outcome.sshHostKeys.after)
    lines.push(
      `    + ${key.type.toUpperCase().padEnd(8)} ${String(key.bits).padStart(5)}  ${key.fingerprint}`,
    );
  return `${lines.join('\n')}\n`;
}

/** Registers `reset-identity`. */
export function addResetIdentityCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('reset-identity')
    .summary('give a stopped guest new SSH host keys, machine-id, filesystem UUIDs, random seed and MAC')
    .description(
      'Give the stopped guest NAME the identity of a new machine, by the code a clone uses: new SSH host ' +
        'keys made on the host, an empty machine-id (systemd makes a new one at the next boot), a new ' +
        'random seed, new filesystem and swap UUIDs (fstab and the boot menu follow) and a new random MAC ' +
        '(Xen prefix) in its cfg and network config. It works on sparse copies of the images beside them ' +
        'that replace the originals at the end, so a failure leaves the guest as it was (and needs that ' +
        'much free space for the while). For a guest copied by hand: find those with xenkit audit.',
    )
    .argument('<name>', 'the guest (must be stopped)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(
      async (name: string, flags: { dryRun?: boolean; json?: boolean; quiet?: boolean; root?: string }) => {
        const paths = pathsFor(deps, flags.root);
        if (!flags.dryRun) await recoverBeforeRun(paths, deps.io);
        const { plan, outcome } = await buildResetIdentityPlan(paths, name, { running: { xl: deps.xl } });
        if (flags.dryRun) {
          if (flags.json) writeJson(deps.io, { ok: true, dryRun: true, plan: planToJSON(plan) });
          else deps.io.stdout.write(renderPlan(plan));
          return;
        }
        const logPath = logPathOf(paths, name);
        const log = new RunLog(logPath);
        const reporter = startProgress(deps.io, flags.quiet === true || flags.json === true);
        try {
          log.sink({ type: 'info', message: `xenkit reset-identity ${name}` });
          await runPlan(plan, {
            paths,
            journal: `reset-identity ${name}`,
            sink: log.sink,
            reporter,
            env: deps.env ?? process.env,
            logPath,
          });
        } finally {
          reporter.stop();
          refillDrawnPools(paths.root, log.sink);
          log.close();
        }
        if (flags.json) writeJson(deps.io, { ok: true, ...outcome });
        else deps.io.stdout.write(renderReset(outcome));
      },
    );
}
