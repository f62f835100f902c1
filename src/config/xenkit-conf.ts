/**
 * `/etc/xenkit/xenkit.conf`: xenkit's own settings for the domain commands, in xen-tools.conf's
 * `key = value` syntax (without backtick commands): `driver` (xl, qemu or libvirt) and `connect`
 * (the libvirt URI). A missing file is no settings; an unknown key is an error naming the line.
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
}

const KEYS = ['driver', 'connect'] as const;

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
        `the settings are ${KEYS.join(' and ')}`,
      );
    }
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
