/** `xenkit audit [NAME...]`: shared or weak identity in the guests' images, read-only. */
import type { Command } from 'commander';
import { auditGuests, type AuditReport } from '../../images/audit.js';
import type { GuestFacts } from '../../images/audit-findings.js';
import { pathsFor, writeJson, type ImageCommandDeps } from './deps.js';

function describeGuest(g: GuestFacts): string {
  if (!g.root) return `${g.name}: root filesystem not read`;
  const id =
    g.machineId === undefined
      ? 'no machine-id'
      : g.machineId === ''
        ? 'machine-id empty (first boot)'
        : `machine-id ${g.machineId}`;
  const seed = g.randomSeed ? `random seed ${g.randomSeed.size} bytes` : 'no random seed';
  const boots = g.boots ? `, ${g.boots.length} boot(s) in the journal` : '';
  return `${g.name}: ${g.root.image} (${g.root.method}), ${g.hostKeys.length} host key(s), ${id}, ${seed}${boots}`;
}

/** The report as text: what was read from each guest, then each finding with guest and file. */
export function renderAudit(report: AuditReport): string {
  const lines = report.guests.map(describeGuest);
  lines.push('');
  if (report.findings.length === 0) {
    lines.push(`No shared or weak identity in ${report.guests.length} guest(s).`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`${report.findings.length} problem(s):`);
  for (const finding of report.findings) {
    lines.push(`  ${finding.kind}: ${finding.message}`);
    for (const w of finding.where) lines.push(`      ${w.guest}  ${w.file}`);
  }
  lines.push(
    '',
    'hint: xenkit reset-identity NAME gives a stopped guest new keys, machine-id, UUIDs, seed and MAC',
  );
  return `${lines.join('\n')}\n`;
}

/** Registers `audit`. */
export function addAuditCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('audit')
    .summary('find SSH host keys, machine-ids, UUIDs and MACs that guests share, and weak keys')
    .description(
      "Read every guest's images without changing them (ext2/3/4 through debugfs, no mount; xfs and " +
        'btrfs through a read-only loop mount without journal replay; qcow2 through a read-only ' +
        'qemu-storage-daemon export) and report identity two guests share (SSH host key, machine-id, ' +
        'filesystem UUID, random seed, MAC in the cfg: what a copy made with cp, dd or tar carries ' +
        'along) and weak identity: RSA host keys under 2048 bits, DSA keys, host keys made before the ' +
        "kernel's CRNG was ready (where the guest's journal shows it), a missing or empty random seed. " +
        'Named guests are compared with all others. Exit status 1 when there is a problem (or an image ' +
        'could not be read), 0 when there is none.',
    )
    .argument('[names...]', 'the guests to report on (default: all)')
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (names: string[], flags: { json?: boolean; root?: string }) => {
      const report = await auditGuests(pathsFor(deps, flags.root), names);
      const ok = report.findings.length === 0;
      if (flags.json) writeJson(deps.io, { ok, ...report });
      else deps.io.stdout.write(renderAudit(report));
      if (!ok) process.exitCode = 1;
    });
}
