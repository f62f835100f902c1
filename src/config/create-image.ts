/**
 * The configuration pipeline of `xen-create-image`: argv + environment + conf files ->
 * validated GuestSpec, with the flags that steer the command and the merged settings.
 */
import { statSync } from 'node:fs';
import { usageError, XenkitError } from '../errors.js';
import { parseGetopt } from './getopt.js';
import { flagsOf, type CreateImageFlags } from './create-image-flags.js';
import { renderXenToolsConf, type ShellRunner } from '../formats/xen-tools-conf.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { HostFacts } from '../model/host-facts.js';
import { detectHostFacts } from '../tools/host-probe.js';
import { makePaths, resolveRoot, underRoot, type Paths } from '../paths.js';
import { findFreeIp, type PoolAddress } from './ips-file.js';
import { cliLayer, loadSettings } from './layer.js';
import { CREATE_IMAGE_OPTIONS, findOptionByKey, type SettingValue } from './options.js';
import type { SettingsReader } from './settings-reader.js';
import { settingValues, type Settings } from './settings.js';
import { validateSettings } from './validate.js';

export type { CreateImageFlags };

export interface CreateImageRequest {
  /** The guest to build; undefined only when help, version or dumpConfig is set. */
  spec: GuestSpec | undefined;
  paths: Paths;
  flags: CreateImageFlags;
  warnings: string[];
  /** The merged raw settings (without the password), for --dumpconfig and hooks' environment. */
  settings: Record<string, SettingValue>;
}

export interface ResolveDeps {
  /** Host facts (default: detected). */
  host?: HostFacts;
  /** Runs backtick commands of conf files (default: /bin/sh -c). */
  runShell?: ShellRunner;
  /**
   * Runs once the paths are known, before anything on disk is checked: crash recovery, so that
   * what a killed run left (a cfg, a partial image) is gone before validation looks for it.
   */
  beforeValidate?: (paths: Paths) => Promise<void>;
}

/** Keys never handed on: secrets (they reach the guest through stdin only). */
const SECRET_KEYS = ['password'];

function publicValues(settings: Settings): Record<string, SettingValue> {
  const values = settingValues(settings);
  for (const key of SECRET_KEYS) delete values[key];
  return values;
}

async function pickAutoIp(r: SettingsReader, paths: Paths): Promise<PoolAddress | undefined> {
  const ipfile = r.path('ipfile') ?? underRoot(paths, '/etc/xen-tools/ips.txt');
  const configDir = r.path('output') ?? paths.xenDir;
  try {
    statSync(ipfile);
  } catch {
    r.errors.add(
      'E_IPFILE',
      `--ip "auto" needs an address pool, but ${ipfile} does not exist`,
      `list free addresses or CIDR ranges in ${ipfile}, one a line (or set ipfile in xen-tools.conf)`,
    );
    return undefined;
  }
  try {
    const free = await findFreeIp(paths, ipfile, configDir);
    if (!free) {
      r.errors.add(
        'E_IP_EXHAUSTED',
        `--ip "auto": no free address left in ${ipfile}`,
        'add addresses or ranges to it, or give --ip=ADDRESS',
      );
    }
    return free;
  } catch (error) {
    if (error instanceof XenkitError) r.errors.push(error);
    else throw error;
    return undefined;
  }
}

/**
 * Parses argv, reads the conf files and validates everything into a CreateImageRequest. Bad
 * input throws a usage XenkitError (ValidationErrors with every problem). Nothing is written.
 * With --help or --version nothing else is read; with --dumpconfig nothing is validated.
 */
export async function resolveCreateImage(
  argv: string[],
  env: NodeJS.ProcessEnv,
  deps: ResolveDeps = {},
): Promise<CreateImageRequest> {
  const cli = cliLayer(parseGetopt(argv, CREATE_IMAGE_OPTIONS));
  const cliFlags = flagsOf(cli);
  const rootOption = cli.root?.value;
  if (rootOption !== undefined) {
    let isDir: boolean;
    try {
      isDir = statSync(String(rootOption)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir)
      throw usageError(
        'E_ROOT',
        `--root "${String(rootOption)}" is not a directory`,
        'create it first, or leave --root out',
      );
  }
  const paths = makePaths(resolveRoot(rootOption === undefined ? undefined : String(rootOption), env));
  if (cliFlags.help || cliFlags.version) {
    return { spec: undefined, paths, flags: cliFlags, warnings: [], settings: publicValues(cli) };
  }
  const host = deps.host ?? (await detectHostFacts(env));
  const { settings, warnings, confFile } = await loadSettings({
    cli,
    env,
    paths,
    host,
    runShell: deps.runShell,
  });
  const flags = { ...flagsOf(settings), help: false, version: false, dumpConfig: cliFlags.dumpConfig };
  if (flags.dumpConfig) return { spec: undefined, paths, flags, warnings, settings: publicValues(settings) };
  if (!flags.dryRun) await deps.beforeValidate?.(paths);
  const context = {
    paths,
    host,
    globalConfFile: confFile,
    pickAutoIp: (r: SettingsReader) => pickAutoIp(r, paths),
  };
  const spec = await validateSettings(settings, context, warnings);
  return { spec, paths, flags, warnings, settings: publicValues(settings) };
}

/** The merged settings in xen-tools.conf syntax, for --dumpconfig (command-only keys left out). */
export function renderDumpConfig(settings: Record<string, SettingValue>): string {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (findOptionByKey(key)?.inConf === false) continue;
    out[key] = Array.isArray(value)
      ? value.join(' ')
      : typeof value === 'boolean'
        ? value
          ? '1'
          : '0'
        : value;
  }
  return '# merged settings of xen-create-image, in xen-tools.conf syntax\n' + renderXenToolsConf(out);
}
