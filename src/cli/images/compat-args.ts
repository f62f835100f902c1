/**
 * Command lines of the xen-tools image tools (Getopt::Long: `--dir=X`, `--dir X`, `-dir`, unique
 * prefixes, names anywhere among the options), on the shared getopt of xen-create-image.
 */
import { readFileSync } from 'node:fs';
import type { OptionDef } from '../../config/options.js';
import { usageError } from '../../errors.js';
import { parseXenToolsConf } from '../../formats/xen-tools-conf.js';
import type { Paths } from '../../paths.js';
import { parseGetopt, type ParsedOption } from '../../config/getopt.js';

/** Parsed options by key (lists for `list` options) and the plain arguments. */
export interface CompatArgs {
  values: Map<string, string | boolean | string[]>;
  names: string[];
}

function takesValue(arg: string, table: readonly OptionDef[]): boolean {
  if (arg.includes('=')) return false;
  const name = arg.replace(/^--?/, '').toLowerCase();
  const hits = table.filter((d) => d.name.startsWith(name));
  const def = hits.find((d) => d.name === name) ?? (hits.length === 1 ? hits[0] : undefined);
  return def !== undefined && (def.kind === 'string' || def.kind === 'list' || def.kind === 'int');
}

/** Splits names from options (Getopt::Long's permute order) and parses the options. */
export function parseCompatArgs(
  argv: readonly string[],
  table: readonly OptionDef[],
  program: string,
): CompatArgs {
  const options: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      names.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      options.push(arg);
      if (takesValue(arg, table) && i + 1 < argv.length) options.push(argv[++i] ?? '');
    } else names.push(arg);
  }
  const parsed: ParsedOption[] = parseGetopt(options, table, { program });
  const values = new Map<string, string | boolean | string[]>();
  for (const p of parsed) {
    if (p.def.kind === 'list')
      values.set(p.def.key, [...((values.get(p.def.key) as string[]) ?? []), String(p.value)]);
    else values.set(p.def.key, p.value);
  }
  return { values, names };
}

/** A row of an option table. */
export function opt(name: string, kind: OptionDef['kind'], help: string, valueName?: string): OptionDef {
  return { name, key: name, kind, help, group: 'general', ...(valueName ? { valueName } : {}) };
}

/** A row xenkit adds to xen-tools' options (its xen-tools help says `xenkit:`). */
export function added(def: OptionDef): OptionDef {
  return { ...def, group: 'xenkit' };
}

/** xen-tools' EVMS storage, named so that it is refused rather than unknown (refuseVolumeStorage). */
export const EVMS_OPTION = opt('evms', 'string', 'the EVMS container (not available)', 'C');

/** The options every image command ends with, under both names: --json and --root. */
export const CLOSING_OPTIONS: readonly OptionDef[] = [
  added(opt('json', 'flag', 'print the result as JSON')),
  added(opt('root', 'string', 'work under DIR instead of / (also XENKIT_ROOT)', 'DIR')),
];

/** What the xen-tools names add to a table: their help and version options. */
export const HELP_OPTIONS: readonly OptionDef[] = [
  opt('help', 'flag', 'show this help'),
  opt('manual', 'flag', 'show this help'),
  opt('version', 'flag', 'show the version'),
];

/** The storage settings of /etc/xen-tools/xen-tools.conf (`dir`, `lvm`, ...), backticks not run. */
export async function readConfStorage(paths: Paths): Promise<{ dir?: string; lvm?: string }> {
  let text: string;
  try {
    text = readFileSync(paths.confFile, 'utf8');
  } catch {
    return {};
  }
  const conf = await parseXenToolsConf(text, paths.confFile, {
    runShell: () => Promise.resolve({ stdout: '', stderr: 'not run', exitCode: 1 }),
  }).catch(() => undefined);
  const get = (key: string): string | undefined => conf?.entries.filter((e) => e.key === key).at(-1)?.value;
  return { dir: get('dir'), lvm: get('lvm') };
}

/** Refuses the storage kinds this version cannot delete or update (EVMS and ZFS; LVM works). */
export function refuseVolumeStorage(values: CompatArgs['values'], program: string): void {
  for (const key of ['evms', 'zpool']) {
    if (values.get(key) !== undefined) {
      throw usageError(
        'E_STORAGE_UNSUPPORTED',
        `${program}: --${key} ${String(values.get(key))}: ${key === 'evms' ? 'EVMS' : 'ZFS'} storage is not available in this version`,
        'xenkit guests live in image files (--dir DIR) or LVM volumes (--lvm VG)',
      );
    }
  }
}

/**
 * Where the guests live, as xen-tools decides it: `--dir` or `--lvm` on the command line wins
 * and clears the other; otherwise both come from xen-tools.conf (`fromConf`: a default the
 * guest's own cfg may overrule, not an order).
 */
export async function resolveCompatStorage(
  values: CompatArgs['values'],
  paths: Paths,
): Promise<{ dir: string | undefined; lvm: string | undefined; fromConf: boolean }> {
  const dir = values.get('dir') as string | undefined;
  const lvm = values.get('lvm') as string | undefined;
  if (dir !== undefined || lvm !== undefined) return { dir, lvm, fromConf: false };
  const conf = await readConfStorage(paths);
  return { dir: conf.dir, lvm: conf.lvm, fromConf: true };
}

/**
 * Where the guests live: under the xen-tools name, as xen-tools decides it (resolveCompatStorage);
 * under xenkit's, only what the command line says (else each guest's cfg).
 */
export async function storageOf(
  values: CompatArgs['values'],
  paths: Paths,
  isXenTools: boolean,
): Promise<{ dir: string | undefined; lvm: string | undefined; fromConf: boolean }> {
  if (isXenTools) return resolveCompatStorage(values, paths);
  return {
    dir: values.get('dir') as string | undefined,
    lvm: values.get('lvm') as string | undefined,
    fromConf: false,
  };
}

/** Renders an option table as help text. */
export function renderCompatHelp(synopsis: string, table: readonly OptionDef[], description: string): string {
  const rows = table.map((d) => {
    const left = `--${d.name}${d.kind === 'flag' ? '' : d.kind === 'optional' ? `[=${d.valueName ?? 'X'}]` : `=${d.valueName ?? 'X'}`}`;
    return `   ${left.padEnd(22)} ${d.group === 'xenkit' ? 'xenkit: ' : ''}${d.help}`;
  });
  return `${synopsis}\n\n${description}\n\nOptions:\n${rows.join('\n')}\n`;
}
