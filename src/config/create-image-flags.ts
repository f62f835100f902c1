/** The flags of `xen-create-image` that steer the command (dry run, JSON, help) rather than the guest. */
import type { Settings } from './settings.js';

/** Flags that change what the command does rather than what it builds. */
export interface CreateImageFlags {
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  help: boolean;
  version: boolean;
  dumpConfig: boolean;
}

/** Reads the command flags from settings (command line, and `verbose` from any layer). */
export function flagsOf(settings: Settings): CreateImageFlags {
  const on = (key: string): boolean => {
    const value = settings[key]?.value;
    return value === true || (typeof value === 'string' && /^(1|yes|true|on)$/i.test(value.trim()));
  };
  return {
    dryRun: on('dry-run'),
    json: on('json'),
    quiet: on('quiet'),
    verbose: on('verbose'),
    help: on('help') || on('manual'),
    version: on('version'),
    dumpConfig: on('dumpconfig') || on('debug'),
  };
}
