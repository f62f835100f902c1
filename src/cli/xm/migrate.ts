/** `xm migrate NAME HOST [--live]`: moves a running guest to another libvirt host. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { checkHostName, checkHostUri, findHost } from '../../config/hosts-file.js';
import type { MigrationTarget } from '../../hypervisors/driver.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** HOST as given: a URI (it has `://`), else a host of the hosts file. */
async function resolveTarget(session: Session, host: string): Promise<MigrationTarget> {
  if (host.includes('://')) return { uri: checkHostUri(host), label: host };
  const entry = await findHost(session.paths.hostsFile, checkHostName(host));
  return { uri: entry.uri, label: `"${entry.name}"` };
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? 'unknown' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Registers `migrate`. */
export function addMigrateCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('migrate')
    .summary('move a running domain to another libvirt host')
    .description(
      'Move the running domain NAME to HOST (a host added with `xenkit hosts add`, or a libvirt URI) ' +
        'through libvirt, with its definition: afterwards it runs there and is no longer defined ' +
        'here; its autostart flag goes along. With --live the guest keeps running while its memory ' +
        'is copied and stops only for the switch-over (the downtime is reported); without it, it is ' +
        "paused for the copy. Disks HOST does not see at the same paths are copied along (libvirt's " +
        'storage copy, into volumes made there of the same size and format), a kernel or initrd it ' +
        "lacks is uploaded first; a host without the memory, or with another file at a disk's path, " +
        'is refused. When anything fails, the guest keeps running where it was. Needs the libvirt ' +
        'driver: --host NAME or --connect URI names the source (default: the local libvirt).',
    )
    .argument('<name>', 'domain name')
    .argument('<host>', 'destination: a host name of `xenkit hosts list`, or a libvirt URI')
    .option('-l, --live', 'keep the guest running during the copy (live migration)');
  addCommonOptions(command).action(
    async (name: string, host: string, opts: { live?: boolean }, cmd: Command) => {
      const flags = flagsOf(cmd);
      const session = new Session(deps, { ...flags, driver: flags.driver ?? 'libvirt' });
      session.guestName(name, 'migrate');
      const target = await resolveTarget(session, host);
      const driver = await session.driver();
      if (!driver.migrate) {
        throw usageError(
          'E_UNSUPPORTED',
          `migrate is not available with the ${driver.name} driver`,
          'guests move between hosts through libvirt: --driver libvirt (or --host NAME)',
        );
      }
      const source = await session.connection();
      if (source.uri === target.uri) {
        throw usageError(
          'E_MIGRATE',
          `${host} is the host "${name}" runs on (${source.uri})`,
          'name another host: xenkit hosts list',
        );
      }
      const domain = await session.findRunning(name, 'migrate');
      const live = opts.live === true;
      if (!session.json) {
        deps.io.stderr.write(
          `Migrating ${name} (id=${domain.id}) from ${source.uri} to ${target.label} (${target.uri})${live ? ', live' : ''}...\n`,
        );
      }
      const report = await driver.migrate(name, target, { live });
      session.report(
        `Migrated ${name} to ${target.label}${live ? ' live' : ''} in ${seconds(report.elapsedMs)}; ` +
          `downtime ${report.downtimeMs === undefined ? 'unknown' : `${report.downtimeMs} ms`}` +
          (report.autostart ? '; autostart set there' : '') +
          (report.copiedDisks && report.copiedDisks.length > 0
            ? `; storage copied: ${report.copiedDisks.join(', ')} (the source's copies stay on ${source.uri})`
            : '') +
          (report.uploadedFiles && report.uploadedFiles.length > 0
            ? `; uploaded ${report.uploadedFiles.join(', ')}`
            : ''),
        {
          ok: true,
          action: 'migrate',
          domain: name,
          from: source.uri,
          to: target.uri,
          ...report,
        },
      );
    },
  );
}
