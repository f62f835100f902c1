/** Settings with their origin, so every error can name the input it is about. */
import type { SettingValue } from './options.js';

/** Where a setting came from. */
export type Origin =
  | { kind: 'default' }
  | { kind: 'file'; file: string; line: number }
  | { kind: 'cli'; flag: string }
  | { kind: 'env'; name: string };

export interface Setting {
  value: SettingValue;
  origin: Origin;
}

/** Settings by key (xen-tools' %CONFIG keys). */
export type Settings = Record<string, Setting>;

/** How to name a setting in a message: `--size`, `/etc/xen-tools/xen-tools.conf:3: size`. */
export function describeInput(key: string, setting: Setting | undefined): string {
  const origin = setting?.origin ?? { kind: 'default' };
  switch (origin.kind) {
    case 'cli':
      return origin.flag.startsWith('-') ? origin.flag : `--${origin.flag}`;
    case 'env':
      return `$${origin.name}`;
    case 'file':
      return `${origin.file}:${origin.line}: ${key}`;
    default:
      return `default ${key}`;
  }
}

/** The plain values, for `--dumpconfig` and the hooks' environment. */
export function settingValues(settings: Settings): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  for (const key of Object.keys(settings).sort()) {
    const setting = settings[key];
    if (setting) out[key] = setting.value;
  }
  return out;
}

/** Whether the setting came from the user (command line, environment or a file), not a default. */
export function isUserSet(setting: Setting | undefined): boolean {
  return setting !== undefined && setting.origin.kind !== 'default';
}

const OFF = new Set(['0', 'no', 'false', 'off', '']);

/** Whether a setting's value is on: a true flag, a non-empty list, a value not 0/no/false/off. */
export function isOn(setting: Setting | undefined): boolean {
  const value = setting?.value;
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.length > 0;
  return !OFF.has(value.trim().toLowerCase());
}

/**
 * Whether two settings were given on the same layer (the command line, the environment, or
 * one file). Two options that contradict each other on one layer are a conflict; across layers
 * the higher one simply wins.
 */
export function isSameLayer(a: Setting | undefined, b: Setting | undefined): boolean {
  if (!isUserSet(a) || !isUserSet(b) || !a || !b) return false;
  if (a.origin.kind === 'file' && b.origin.kind === 'file') return a.origin.file === b.origin.file;
  return a.origin.kind === b.origin.kind;
}
