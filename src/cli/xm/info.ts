/** `xenkit info`: which driver runs guests here and why, the accelerator, and the paths in use. */
import type { Command } from 'commander';
import type { DriverName } from '../../hypervisors/driver.js';
import type { Paths } from '../../paths.js';
import { probeDefaultAccel } from './default-deps.js';
import type { AccelInfo, DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session, type Connection } from './session.js';

/** Everything `info` reports. */
export interface InfoReport {
  driver: DriverName;
  reason: string;
  /** The libvirt connection and why (libvirt driver only). */
  connect?: Connection;
  accel: AccelInfo | { kind: 'unknown'; reason: string } | null;
  paths: Paths;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Gathers the report: the driver choice, for QEMU the accelerator, for libvirt the connection and what it offers. */
export async function collectInfo(session: Session): Promise<InfoReport> {
  const choice = await session.chooseDriver();
  let accel: InfoReport['accel'] = null;
  if (choice.driver === 'libvirt') {
    const connect = await session.connection();
    try {
      accel = (await (await session.driver()).hostInfo()).accel ?? null;
    } catch (error) {
      accel = { kind: 'unknown', reason: messageOf(error) };
    }
    return { driver: choice.driver, reason: choice.reason, connect, accel, paths: session.paths };
  }
  if (choice.driver === 'qemu') {
    try {
      accel = await (session.deps.probeAccel ?? probeDefaultAccel)();
    } catch (error) {
      accel = { kind: 'unknown', reason: messageOf(error) };
    }
  }
  return { driver: choice.driver, reason: choice.reason, accel, paths: session.paths };
}

/** The text form of the report. */
export function renderInfo(report: InfoReport): string {
  const lines = [`driver:     ${report.driver}`, `reason:     ${report.reason}`];
  if (report.connect) lines.push(`connect:    ${report.connect.uri} (${report.connect.reason})`);
  if (report.accel) lines.push(`accel:      ${report.accel.kind} (${report.accel.reason})`);
  const p = report.paths;
  lines.push(
    `root:       ${p.root}`,
    `defaults:   ${p.confFile}`,
    `configs:    ${p.xenDir}`,
    `autostart:  ${p.autoDir}`,
    `logs:       ${p.logDir}`,
    `state:      ${p.stateDir}`,
    `cache:      ${p.cacheDir}`,
  );
  return lines.join('\n');
}

/** Registers `info`. */
export function addInfoCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('info')
    .summary('show the hypervisor driver in use, why, and the paths')
    .description(
      'Show which driver runs guests on this host (xl on a Xen dom0, qemu otherwise, libvirt when chosen) and the evidence, ' +
        'the accelerator QEMU would use (kvm or tcg), the libvirt connection and why, and where configs, logs and state live.',
    );
  addCommonOptions(command).action(async (_opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const report = await collectInfo(session);
    session.report(renderInfo(report), report);
  });
}
