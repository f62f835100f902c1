/** `xen-create-image --help`, rendered from the option table. */
import { CREATE_IMAGE_OPTIONS, type OptionDef, type OptionGroup } from '../config/options.js';

const GROUP_TITLES: Record<OptionGroup, string> = {
  help: 'Help options',
  general: 'Size / general options',
  install: 'Installation options',
  network: 'Networking options',
  storage: 'Storage options (one of --dir, --lvm, --image-dev is mandatory)',
  xenkit: 'xenkit options (not in xen-tools)',
};

function usageOf(def: OptionDef): string {
  const names = [def.name, ...(def.aliases ?? [])];
  const value = def.valueName ?? 'VALUE';
  return names
    .map((name) => {
      switch (def.kind) {
        case 'flag':
          return `--${name}`;
        case 'negatable':
          return `--(no)${name}`;
        case 'optional':
          return `--${name}[=${value}]`;
        default:
          return `--${name}=${value}`;
      }
    })
    .join(', ');
}

function defaultOf(def: OptionDef): string {
  if (def.default === undefined || def.default === false || def.default === '') return '';
  const shown = Array.isArray(def.default)
    ? def.default.join(' ')
    : def.default === true
      ? 'on'
      : def.default;
  return ` [default: ${shown}]`;
}

/** The `--help` text, generated from the option table and grouped as in xen-tools' manual. */
export function renderCreateImageHelp(program = 'xen-create-image'): string {
  const lines = [
    `Usage: ${program} --hostname=NAME (--dir=DIR | --lvm=VG | --image-dev=DEV) (--ip=IP | --dhcp) [options]`,
    '',
    'Creates a guest: storage, a Debian or Ubuntu install, customisation, and its domain config.',
    '',
    'Settings are read in this order, later ones winning:',
    '  1. built-in defaults',
    '  2. /etc/xen-tools/xen-tools.conf under --root (or --conf-file / $XENKIT_CONF)',
    '  3. the --config FILE (a bare name is looked up in /etc/xen-tools)',
    '  4. the command line',
    'Unlike xen-tools 4.9.2, which read --config after the command line, the command line wins.',
    'The place for the guest (--dir/--lvm/--image-dev), --ip/--dhcp and the password source are each',
    'one choice: the highest layer that sets one of them decides it.',
    'Options can be abbreviated to any unique prefix and written with one or two dashes.',
  ];
  const groups = Object.keys(GROUP_TITLES) as OptionGroup[];
  for (const group of groups) {
    const defs = CREATE_IMAGE_OPTIONS.filter((d) => d.group === group && d.onCli !== false);
    if (defs.length === 0) continue;
    lines.push('', `${GROUP_TITLES[group]}:`);
    for (const def of defs) {
      const usage = usageOf(def);
      const text = `${def.help}${defaultOf(def)}`;
      if (usage.length <= 28) lines.push(`  ${usage.padEnd(29)}${text}`);
      else lines.push(`  ${usage}`, `  ${''.padEnd(29)}${text}`);
    }
  }
  lines.push(
    '',
    'Conf-file only: ipfile (address pool for --ip=auto), partitionsdir, mirror_<dist>,',
    'keyring_<dist>, <fs>_options, make_fs_<fs>, mount_fs_<fs>.',
    'Exit status: 0 success, 1 failure while building, 2 bad options or configuration.',
  );
  return lines.join('\n') + '\n';
}
