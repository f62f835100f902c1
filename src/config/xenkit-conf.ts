/**
 * `/etc/xenkit/xenkit.conf`: xenkit's own settings for the domain commands, in xen-tools.conf's
 * `key = value` syntax (without backtick commands): `driver` (xl, qemu or libvirt), `connect`
 * (the libvirt URI), and what the host's shutdown does to running guests: `on_host_shutdown`
 * (shutdown or save, as Debian's XENDOMAINS_SAVE) and `save_dir` (where they are saved). A missing
 * file is no settings; an unknown key or a bad value is an error naming the line.
 */
import { readFile } from 'node:fs/promises';
import { usageError } from '../errors.js';
import { parseXenToolsConf } from '../formats/xen-tools-conf.js';

/** One setting with where it was read, for the reasons `xenkit info` gives. */
export interface XenkitSetting {
  value: string;
  where: string;
}

/** The settings xenkit.conf can hold. */
export interface XenkitConf {
  driver?: XenkitSetting;
  connect?: XenkitSetting;
  on_host_shutdown?: XenkitSetting;
  save_dir?: XenkitSetting;
}

const KEYS = ['driver', 'connect', 'on_host_shutdown', 'save_dir'] as const;

/** What the host's shutdown does to running guests. */
export const HOST_SHUTDOWN_ACTIONS = ['shutdown', 'save'] as const;
export type HostShutdownAction = (typeof HOST_SHUTDOWN_ACTIONS)[number];

/** The values a key must have, where it is not free text: the error names the line. */
function checkValue(key: (typeof KEYS)[number], value: string, where: string): void {
  if (key === 'on_host_shutdown' && !(HOST_SHUTDOWN_ACTIONS as readonly string[]).includes(value)) {
    throw usageError(
      'E_CONF_SYNTAX',
      `${where}: on_host_shutdown "${value}" is neither shutdown nor save`,
      'on_host_shutdown = save saves running guests at host shutdown and restores them at boot',
    );
  }
  if (key === 'save_dir' && !value.startsWith('/')) {
    throw usageError(
      'E_CONF_SYNTAX',
      `${where}: save_dir "${value}" is not an absolute path`,
      'e.g. save_dir = /var/lib/xenkit/save',
    );
  }
}

/** Parses xenkit.conf text (`file` names it in errors). */
export async function parseXenkitConf(text: string, file: string): Promise<XenkitConf> {
  const parsed = await parseXenToolsConf(text, file, {
    runShell: (command) => {
      throw usageError(
        'E_CONF_SYNTAX',
        `${file}: backtick commands are not run in xenkit.conf (\`${command}\`)`,
        'write the value itself',
      );
    },
  });
  const conf: XenkitConf = {};
  for (const entry of parsed.entries) {
    const key = KEYS.find((k) => k === entry.key);
    if (!key) {
      throw usageError(
        'E_CONF_SYNTAX',
        `${file}:${entry.line}: "${entry.key}" is not a xenkit.conf setting`,
        `the settings are ${KEYS.join(', ')}`,
      );
    }
    checkValue(key, entry.value, `${file}:${entry.line}`);
    conf[key] = { value: entry.value, where: `${file}:${entry.line}` };
  }
  return conf;
}

/** Reads xenkit.conf; no file means no settings. */
export async function readXenkitConf(file: string): Promise<XenkitConf> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw usageError('E_CONF_MISSING', `cannot read ${file}`, undefined, error);
  }
  return parseXenkitConf(text, file);
}
