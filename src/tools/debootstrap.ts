/** Typed wrapper for debootstrap (or a compatible `--debootstrap-cmd`): argv and progress parsing. */
import type { ExecResult } from './exec.js';
import { runInstaller, type RunToolOptions } from './mmdebstrap.js';

export interface DebootstrapOptions {
  suite: string;
  target: string;
  mirror: string;
  /** `minbase` is the smallest set that still has apt; xen-tools ran the default (`-`) variant. */
  variant?: 'minbase' | 'buildd' | 'fakechroot' | undefined;
  components: string[];
  include: string[];
  architecture?: string | undefined;
  keyring?: string | undefined;
  /** Keeps downloaded .debs here between runs (absolute path; debootstrap verifies checksums). */
  cacheDir?: string | undefined;
  /**
   * The program and any leading arguments (`--debootstrap-cmd`, e.g. `/usr/sbin/debootstrap` or
   * `debootstrap --no-check-gpg`); defaults to `debootstrap`.
   */
  command?: string[] | undefined;
}

/** Splits a `--debootstrap-cmd` value into argv words (whitespace separated; no shell). */
export function splitToolCommand(command: string | undefined): string[] | undefined {
  const words = command?.trim().split(/\s+/).filter(Boolean) ?? [];
  return words.length > 0 ? words : undefined;
}

/** The exact argv debootstrap is run with. */
export function buildDebootstrapArgv(options: DebootstrapOptions): string[] {
  const argv = [...(options.command ?? ['debootstrap'])];
  if (options.variant) argv.push(`--variant=${options.variant}`);
  if (options.architecture) argv.push(`--arch=${options.architecture}`);
  if (options.components.length > 0) argv.push(`--components=${options.components.join(',')}`);
  if (options.include.length > 0) argv.push(`--include=${options.include.join(',')}`);
  if (options.keyring) argv.push(`--keyring=${options.keyring}`);
  if (options.cacheDir) argv.push(`--cache-dir=${options.cacheDir}`);
  argv.push(options.suite, options.target, options.mirror);
  return argv;
}

/**
 * A stateful parser of debootstrap's `I:` lines: `Retrieving`, `Validating`, `Extracting`,
 * `Unpacking` and `Configuring` each become `downloading N pkg`, `unpacking N pkg`, ...;
 * other `I:` lines are passed on as stages. Returns undefined for lines that carry no progress.
 */
export function createDebootstrapProgressParser(): (line: string) => string | undefined {
  const counts = new Map<string, number>();
  const verbs: Record<string, string> = {
    Retrieving: 'downloading',
    Extracting: 'extracting',
    Unpacking: 'unpacking',
    Configuring: 'configuring',
  };
  return (line) => {
    const info = /^I: (\S+)\s*(.*?)(?:\.\.\.)?\s*$/.exec(line);
    if (!info) return undefined;
    const [, word = '', rest = ''] = info;
    if (word === 'Validating') return undefined;
    const verb = verbs[word];
    // Package lines name a package (lowercase) and maybe a version (starts with a digit);
    // "Retrieving InRelease" and "Unpacking required packages" are stages.
    const pkg = /^([a-z0-9][a-z0-9+.-]+)(?::[a-z0-9-]+)?(?: \d\S*)?$/.exec(rest);
    if (!verb || !pkg) return `${word} ${rest}`.trim();
    const n = (counts.get(verb) ?? 0) + 1;
    counts.set(verb, n);
    return `${verb} ${n} ${pkg[1]}`;
  };
}

/** Runs debootstrap; throws E_EXEC (with the tail of its output) when it fails. */
export async function runDebootstrap(
  options: DebootstrapOptions,
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runInstaller(buildDebootstrapArgv(options), createDebootstrapProgressParser(), run);
}
