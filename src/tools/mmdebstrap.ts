/** Typed wrapper for mmdebstrap: builds its argv and turns its verbose output into progress lines. */
import type { EventSink } from '../log/events.js';
import { runCommand, type ExecResult } from './exec.js';

/** mmdebstrap's package-set variants (`--variant`). */
export type MmdebstrapVariant =
  'extract' | 'custom' | 'essential' | 'apt' | 'required' | 'minbase' | 'important';

export interface MmdebstrapOptions {
  suite: string;
  /** Directory to fill; must be empty (mmdebstrap checks). */
  target: string;
  /** Mirror URLs (or whole `deb ...` lines); the first one is the main archive. */
  mirrors: string[];
  variant: MmdebstrapVariant;
  components: string[];
  include: string[];
  architecture?: string | undefined;
  keyring?: string | undefined;
  /** Each becomes one `--aptopt` (permanent in the target's 99mmdebstrap). */
  aptOptions?: string[];
  /** Each becomes one `--dpkgopt` (written to the target's dpkg.cfg.d/99mmdebstrap). */
  dpkgOptions?: string[];
  setupHooks?: string[];
  extractHooks?: string[];
  essentialHooks?: string[];
  customizeHooks?: string[];
  /** Each becomes one `--hook-directory` (mmdebstrap runs the hooks that directory holds). */
  hookDirectories?: string[];
  skip?: string[];
  /** `--verbose`: apt and dpkg output on stderr, which is what progress is parsed from. */
  verbose?: boolean;
  /** Program to run instead of `mmdebstrap` (tests, or a path). */
  command?: string;
}

/** The exact argv mmdebstrap is run with. */
export function buildMmdebstrapArgv(options: MmdebstrapOptions): string[] {
  const argv = [
    options.command ?? 'mmdebstrap',
    `--variant=${options.variant}`,
    '--mode=root',
    '--format=directory',
  ];
  if (options.verbose ?? true) argv.push('--verbose');
  if (options.architecture) argv.push(`--architectures=${options.architecture}`);
  if (options.components.length > 0) argv.push(`--components=${options.components.join(',')}`);
  if (options.include.length > 0) argv.push(`--include=${options.include.join(',')}`);
  if (options.keyring) argv.push(`--keyring=${options.keyring}`);
  for (const opt of options.aptOptions ?? []) argv.push(`--aptopt=${opt}`);
  for (const opt of options.dpkgOptions ?? []) argv.push(`--dpkgopt=${opt}`);
  if (options.skip && options.skip.length > 0) argv.push(`--skip=${options.skip.join(',')}`);
  for (const hook of options.setupHooks ?? []) argv.push(`--setup-hook=${hook}`);
  for (const hook of options.extractHooks ?? []) argv.push(`--extract-hook=${hook}`);
  for (const hook of options.essentialHooks ?? []) argv.push(`--essential-hook=${hook}`);
  for (const hook of options.customizeHooks ?? []) argv.push(`--customize-hook=${hook}`);
  for (const dir of options.hookDirectories ?? []) argv.push(`--hook-directory=${dir}`);
  // `--` so that a target or mirror starting with a dash is never read as an option.
  argv.push('--', options.suite, options.target, ...options.mirrors);
  return argv;
}

/**
 * Quotes a word for mmdebstrap's hooks: its special hooks (`sync-in A B`), which it splits with
 * Perl's Text::ParseWords::shellwords, and its shell hooks (`sh -c`): in both, single quotes keep
 * spaces and metacharacters literal.
 */
export function quoteHookWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Characters of an installer's stdout and stderr kept in memory (for the error message). */
export const INSTALLER_OUTPUT_TAIL = 16 * 1024;

export interface RunToolOptions {
  signal?: AbortSignal;
  sink?: EventSink;
  env?: Record<string, string | undefined>;
  /** Receives short progress texts such as `configuring 120/185 openssh-server`. */
  onProgress?: (text: string) => void;
}

/**
 * Runs an installer (argv) whose output lines `parse` turns into progress texts; throws E_EXEC
 * (with the tail of its output) when it fails.
 */
export async function runInstaller(
  argv: string[],
  parse: (line: string) => string | undefined,
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runCommand(argv, {
    signal: run.signal,
    sink: run.sink,
    env: run.env,
    // Thousands of lines: logged as they come, only a tail kept for the error message.
    captureTail: INSTALLER_OUTPUT_TAIL,
    onLine: (line) => {
      const text = parse(line);
      if (text !== undefined) run.onProgress?.(text);
    },
  });
}

/** Runs mmdebstrap; throws E_EXEC (with the tail of its output) when it fails. */
export async function runMmdebstrap(
  options: MmdebstrapOptions,
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runInstaller(buildMmdebstrapArgv(options), createMmdebstrapProgressParser(), run);
}

/**
 * A stateful parser of mmdebstrap's `--verbose` output: its `I:` stage lines, apt's `Get:` and
 * `N newly installed` lines and dpkg's `Unpacking`/`Setting up` lines become short progress texts.
 * Returns undefined for lines that carry no progress.
 */
export function createMmdebstrapProgressParser(): (line: string) => string | undefined {
  let total: number | undefined;
  let downloaded = 0;
  let unpacked = 0;
  let configured = 0;
  const of = (n: number): string => (total === undefined ? `${n}` : `${n}/${total}`);
  const resetCounters = (): void => {
    downloaded = 0;
    unpacked = 0;
    configured = 0;
  };
  return (line) => {
    const stage = /^I: (.*?)(?:\.\.\.)?\s*$/.exec(line);
    if (stage) {
      resetCounters();
      return stage[1];
    }
    const planned = /^\d+ upgraded, (\d+) newly installed/.exec(line);
    if (planned) {
      total = Number(planned[1]);
      resetCounters();
      return undefined;
    }
    if (/^Get:\d+ /.test(line)) return `downloading ${of(++downloaded)}`;
    const unpacking = /^Unpacking ([^\s:]+)/.exec(line);
    if (unpacking) return `unpacking ${of(++unpacked)} ${unpacking[1]}`;
    const settingUp = /^Setting up ([^\s:]+)/.exec(line);
    if (settingUp) return `configuring ${of(++configured)} ${settingUp[1]}`;
    return undefined;
  };
}
