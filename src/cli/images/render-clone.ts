/** The text summary of a clone. */
import type { CloneOutcome } from '../../images/clone-plan.js';

/** Renders what `clone` made, with the new identity and the time each part took. */
export function renderCloneSummary(outcome: CloneOutcome, totalMs: number): string {
  const lines = [
    `Guest ${outcome.name} cloned from ${outcome.source} (${outcome.mode}) in ${(totalMs / 1000).toFixed(2)} s`,
    '',
  ];
  for (const disk of outcome.disks) {
    const uuid = disk.newUuid ? `, UUID ${disk.newUuid}` : '';
    lines.push(
      `  ${disk.vdev.padEnd(12)}  ${disk.path}  (${disk.fsType ?? '?'}, ${disk.format}${disk.isRoot ? ', root' : ''}${uuid})`,
    );
  }
  lines.push(`  config        ${outcome.cfgPath}`, `  log           ${outcome.logPath}`);
  lines.push(`  MAC           ${outcome.mac ?? '?'} (${outcome.macSource})`);
  if (outcome.uuidFiles.length > 0) lines.push(`  UUIDs in      ${outcome.uuidFiles.join(', ')}`);
  if (outcome.sshHostKeys.length > 0) {
    lines.push('  SSH host keys:');
    for (const key of outcome.sshHostKeys) {
      lines.push(
        `    ${key.type.toUpperCase().padEnd(8)} ${String(key.bits).padStart(5)}  ${key.fingerprint}`,
      );
    }
  }
  const parts = Object.entries(outcome.timings).map(([k, v]) => `${k} ${v} ms`);
  lines.push(`  timings       ${parts.join(', ')}`);
  if (outcome.mode === 'linked') {
    lines.push('', `The images of ${outcome.source} are now read-only: they back this clone.`);
  }
  return `${lines.join('\n')}\n`;
}
