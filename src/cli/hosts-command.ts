/** `xenkit hosts add NAME URI | list | remove NAME`: the named libvirt hosts of `--host` and `list --all-hosts`. */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { checkHostName, checkHostUri, readHosts, updateHosts, type HostEntry } from '../config/hosts-file.js';
import { makePaths, resolveRoot, type Paths } from '../paths.js';
import type { CliIO } from './run-cli.js';

/** What `hosts` needs from outside. */
export interface HostsCommandDeps {
  io: CliIO;
  env?: NodeJS.ProcessEnv;
}

interface HostsFlags {
  root?: string;
  json?: boolean;
  dryRun?: boolean;
}

function renderHosts(hosts: readonly HostEntry[], file: string): string {
  if (hosts.length === 0) return `No hosts (${file} has none): \`xenkit hosts add NAME URI\` adds one.\n`;
  const width = Math.max(4, ...hosts.map((h) => h.name.length));
  return [`${'Host'.padEnd(width)}  URI`, ...hosts.map((h) => `${h.name.padEnd(width)}  ${h.uri}`), ''].join(
    '\n',
  );
}

/** Adds `hosts` with its subcommands to `program`. */
export function addHostsCommands(program: Command, deps: HostsCommandDeps): void {
  const out = (text: string): void => {
    deps.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const pathsOf = (flags: HostsFlags): Paths => makePaths(resolveRoot(flags.root, deps.env ?? process.env));
  const hosts = program
    .command('hosts')
    .summary('name libvirt hosts for --host and list --all-hosts')
    .description(
      'Keep named libvirt hosts in /etc/xenkit/hosts (NAME URI per line, under the root): ' +
        '`--host NAME` on a domain command then means the libvirt driver on that URI, and ' +
        '`list --all-hosts` lists the guests of every host.',
    );
  const common = (command: Command, writes: boolean): Command => {
    command
      .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
      .option('--json', 'print JSON');
    if (writes) command.option('-n, --dry-run', 'show the change and write nothing');
    return command;
  };

  common(
    hosts
      .command('add')
      .summary('add a host')
      .description(
        'Add host NAME with the libvirt URI (e.g. qemu+ssh://root@node2/system). A name in use is refused.',
      )
      .argument('<name>', 'host name (letters, digits, ".", "_", "-")')
      .argument('<uri>', 'libvirt connection URI'),
    true,
  ).action(async (name: string, uri: string, flags: HostsFlags) => {
    const paths = pathsOf(flags);
    const entry = { name: checkHostName(name), uri: checkHostUri(uri) };
    const refuseTaken = (list: HostEntry[]): void => {
      const taken = list.find((h) => h.name === name);
      if (taken) {
        throw usageError(
          'E_EXISTS',
          `host "${name}" exists already (${taken.uri})`,
          `\`xenkit hosts remove ${name}\` first`,
        );
      }
    };
    if (flags.dryRun) refuseTaken(await readHosts(paths.hostsFile));
    else
      await updateHosts(paths.hostsFile, paths.lockDir, (list) => {
        refuseTaken(list);
        return [...list, entry];
      });
    if (flags.json) out(JSON.stringify({ ok: true, action: 'add', dryRun: flags.dryRun === true, ...entry }));
    else out(`${flags.dryRun ? 'Would add' : 'Added'} host ${name}: ${uri} (${paths.hostsFile})`);
  });

  common(
    hosts.command('list').summary('list the hosts').description('List the named hosts and their URIs.'),
    false,
  ).action(async (flags: HostsFlags) => {
    const paths = pathsOf(flags);
    const list = await readHosts(paths.hostsFile);
    out(flags.json ? JSON.stringify(list, null, 2) : renderHosts(list, paths.hostsFile));
  });

  common(
    hosts
      .command('remove')
      .summary('remove a host')
      .description('Remove host NAME from the hosts file (its guests are not touched).')
      .argument('<name>', 'host name'),
    true,
  ).action(async (name: string, flags: HostsFlags) => {
    const paths = pathsOf(flags);
    checkHostName(name);
    const refuseUnknown = (list: HostEntry[]): HostEntry => {
      const found = list.find((h) => h.name === name);
      if (!found) {
        throw usageError(
          'E_HOST',
          `no host "${name}" in ${paths.hostsFile}`,
          '`xenkit hosts list` shows the hosts',
        );
      }
      return found;
    };
    let removed: HostEntry | undefined;
    if (flags.dryRun) removed = refuseUnknown(await readHosts(paths.hostsFile));
    else
      await updateHosts(paths.hostsFile, paths.lockDir, (list) => {
        removed = refuseUnknown(list);
        return list.filter((h) => h.name !== name);
      });
    if (flags.json)
      out(JSON.stringify({ ok: true, action: 'remove', dryRun: flags.dryRun === true, ...removed }));
    else out(`${flags.dryRun ? 'Would remove' : 'Removed'} host ${name} (${removed?.uri ?? ''})`);
  });
}
