/**
 * Layering of `xen-create-image` settings, lowest first:
 *   built-in defaults <- xen-tools.conf <- --config FILE <- command line.
 * The command line wins over everything. xen-tools 4.9.2 read --config last, AFTER the command
 * line, so a --config file overrode options typed by hand; xenkit treats --config as a
 * per-guest file between the global defaults and the command line, which is what people expect.
 * Within that order some settings are one choice: where to store the guest (dir/lvm/image-dev),
 * how it gets its address (ip/dhcp) and where the root password comes from. The highest layer
 * that says anything about such a choice makes it alone: `--ip` on the command line replaces
 * `dhcp = 1` from xen-tools.conf instead of clashing with it (as the 2009 lab notes expect).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { parseXenToolsConf, type ConfEntries, type ShellRunner } from '../formats/xen-tools-conf.js';
import { runShellCommand } from '../tools/shell.js';
import type { HostFacts } from '../model/host-facts.js';
import { underRoot, type Paths } from '../paths.js';
import type { ParsedOption } from './getopt.js';
import { suggestName } from './getopt.js';
import { CREATE_IMAGE_OPTIONS, filesystemDefaults, findOptionByKey, isPatternKey } from './options.js';
import { isOn, type Setting, type Settings } from './settings.js';
import { findDistribution } from './distributions.js';

/** Settings that make one choice together; the highest layer naming any member decides. */
export const CHOICE_GROUPS: readonly {
  name: string;
  members: readonly string[];
  companions?: Record<string, string>;
  /**
   * Only a member that is on (a true flag, a value other than 0/no/false/off) makes the choice:
   * `noswap = 0` in a file says nothing against the swap size of a lower layer.
   */
  onlyWhenOn?: boolean;
}[] = [
  {
    name: 'storage',
    members: ['dir', 'lvm', 'image-dev', 'evms', 'zpool'],
    // Companions belong to one member: they survive from a lower layer only with it.
    companions: { lvm_thin: 'lvm', 'swap-dev': 'image-dev' },
  },
  { name: 'network', members: ['ip', 'dhcp'] },
  { name: 'password', members: ['passwd', 'password', 'password-file', 'password-stdin'] },
  // Pairs xen-tools 4.9.2 resolved silently whatever their layer (noswap over swap, ide over
  // scsi over disk_device, mac over randommac). Across layers the higher one now decides; two
  // members on one layer are a conflict (validation refuses them).
  { name: 'swap', members: ['noswap', 'swap'], onlyWhenOn: true },
  { name: 'disk names', members: ['ide', 'scsi', 'disk_device'], onlyWhenOn: true },
  { name: 'mac', members: ['mac', 'randommac'], onlyWhenOn: true },
];

/** The built-in defaults, with the host's codename and bootstrapper filled in. */
export function builtinDefaults(host: HostFacts): Settings {
  const out: Settings = {};
  const put = (key: string, value: Setting['value']): void => {
    out[key] = { value, origin: { kind: 'default' } };
  };
  for (const def of CREATE_IMAGE_OPTIONS) if (def.default !== undefined) put(def.key, def.default);
  for (const [key, value] of Object.entries(filesystemDefaults())) put(key, value);
  const hostDist = host.codename && findDistribution(host.codename) ? host.codename : 'bookworm';
  put('dist', hostDist);
  put('arch', host.arch);
  put('install-method', host.commands.mmdebstrap ? 'mmdebstrap' : 'debootstrap');
  return out;
}

/** The command line as a layer; list options accumulate, others keep the last value. */
export function cliLayer(parsed: readonly ParsedOption[]): Settings {
  const out: Settings = {};
  for (const { def, value, flag } of parsed) {
    const previous = out[def.key];
    if (def.kind === 'list') {
      const items = Array.isArray(previous?.value) ? previous.value : [];
      out[def.key] = { value: [...items, String(value)], origin: { kind: 'cli', flag } };
    } else {
      out[def.key] = { value, origin: { kind: 'cli', flag } };
    }
  }
  return out;
}

/**
 * A parsed conf file as a layer. Values lose one pair of surrounding quotes (the lab notes write
 * `passwd = '1'`; Perl kept the quotes but only ever used such values as true); list keys split at
 * blanks and commas. Unknown keys and command-line-only keys are warnings, not errors: the file
 * is shared with the other xen-tools commands.
 */
export function confLayer(conf: ConfEntries, warnings: string[]): Settings {
  const out: Settings = {};
  const known = CREATE_IMAGE_OPTIONS.filter((d) => d.inConf !== false).map((d) => d.key);
  for (const { key, value: raw, line } of conf.entries) {
    const value = raw.replace(/^(["'])(.*)\1$/, '$2');
    const origin = { kind: 'file' as const, file: conf.file, line };
    const def = findOptionByKey(key);
    if (def?.inConf === false) {
      warnings.push(`${conf.file}:${line}: "${key}" only works on the command line; ignored here`);
      continue;
    }
    if (!def && !isPatternKey(key)) {
      const near = suggestName(key, known);
      warnings.push(
        `${conf.file}:${line}: unknown setting "${key}" ignored${near ? ` (did you mean "${near}"?)` : ''}`,
      );
      continue;
    }
    out[key] = { value: def?.kind === 'list' ? value.split(/[\s,]+/).filter(Boolean) : value, origin };
  }
  return out;
}

/** Merges layers (lowest first): later layers win, choice groups are decided whole. */
export function mergeLayers(layers: readonly Settings[]): Settings {
  const merged: Settings = {};
  for (const layer of layers) {
    for (const group of CHOICE_GROUPS) {
      const primary = group.members.find(
        (m) => layer[m] !== undefined && (!group.onlyWhenOn || isOn(layer[m])),
      );
      if (primary === undefined) continue;
      for (const member of group.members) delete merged[member];
      for (const [companion, owner] of Object.entries(group.companions ?? {})) {
        if (layer[owner] === undefined) delete merged[companion];
      }
    }
    Object.assign(merged, layer);
  }
  return merged;
}

/** Reads and parses one conf file. */
export async function readConfLayer(
  file: string,
  warnings: string[],
  runShell: ShellRunner | undefined,
): Promise<Settings> {
  const text = await readFile(file, 'utf8');
  const conf = await parseXenToolsConf(text, file, { runShell: runShell ?? runShellCommand });
  warnings.push(...conf.warnings);
  return confLayer(conf, warnings);
}

export interface LayerInputs {
  cli: Settings;
  env: NodeJS.ProcessEnv;
  paths: Paths;
  host: HostFacts;
  runShell?: ShellRunner;
}

/** Loads every layer and merges them; returns the merged settings and the warnings on the way. */
export async function loadSettings(
  inputs: LayerInputs,
): Promise<{ settings: Settings; warnings: string[]; confFile: string | undefined }> {
  const { cli, env, paths } = inputs;
  const warnings: string[] = [];
  const defaults = builtinDefaults(inputs.host);
  const explicitConf =
    cli['conf-file'] ?? (env.XENKIT_CONF ? envSetting('XENKIT_CONF', env.XENKIT_CONF) : undefined);
  const layers: Settings[] = [defaults];
  let confFile: string | undefined;
  if (explicitConf) {
    const file = underRoot(paths, String(explicitConf.value));
    confFile = file;
    if (!existsSync(file)) {
      const what = explicitConf.origin.kind === 'env' ? '$XENKIT_CONF' : '--conf-file';
      throw usageError(
        'E_CONF_MISSING',
        `${what} "${String(explicitConf.value)}" does not exist (looked for ${file})`,
        'name an existing xen-tools.conf, or leave the option out to read /etc/xen-tools/xen-tools.conf',
      );
    }
    layers.push(await readConfLayer(file, warnings, inputs.runShell));
  } else if (existsSync(paths.confFile)) {
    confFile = paths.confFile;
    layers.push(await readConfLayer(paths.confFile, warnings, inputs.runShell));
  }
  const config = cli.config ?? layers.at(-1)?.config;
  if (config && typeof config.value === 'string' && config.value !== '') {
    // As xen-tools: a relative --config names a file in /etc/xen-tools.
    const file = path.isAbsolute(config.value)
      ? underRoot(paths, config.value)
      : path.join(paths.confDir, config.value);
    if (!existsSync(file)) {
      const what = config.origin.kind === 'cli' ? config.origin.flag : `${describeFile(config)}config`;
      throw usageError(
        'E_CONF_MISSING',
        `${what} "${config.value}" does not exist (looked for ${file})`,
        'give an absolute path or a file name inside /etc/xen-tools',
      );
    }
    const layer = await readConfLayer(file, warnings, inputs.runShell);
    if (layer.config) {
      warnings.push(`${file}: "config" inside a --config file is ignored (no nesting)`);
      delete layer.config;
    }
    layers.push(layer);
  }
  layers.push(cli);
  return { settings: mergeLayers(layers), warnings, confFile };
}

function envSetting(name: string, value: string): Setting {
  return { value, origin: { kind: 'env', name } };
}

function describeFile(setting: Setting): string {
  return setting.origin.kind === 'file' ? `${setting.origin.file}:${setting.origin.line}: ` : '';
}
