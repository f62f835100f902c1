/** Runs the built xenkit binaries as a user would, capturing output and exit status. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunBinOptions {
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Called once the child runs, e.g. to signal it. */
  onSpawn?: (pid: number) => void;
  /** A command that execs node in turn (e.g. `['unshare', '--net', '--']`): same pid. */
  wrapper?: string[];
}

/** Runs `bin/NAME.js ARGS...` with node and resolves when it exits. */
export function runBin(name: string, args: string[], options: RunBinOptions = {}): Promise<CliResult> {
  return runNode([path.join(REPO, 'bin', `${name}.js`), ...args], options);
}

/** Runs `node ARGS...` and resolves when it exits. */
export function runNode(nodeArgs: string[], options: RunBinOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const [program, ...wrapperArgs] = [...(options.wrapper ?? []), process.execPath];
    const argv = [...wrapperArgs, ...nodeArgs];
    const child = spawn(program ?? process.execPath, argv, {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.stdin.end(options.input ?? '');
  });
}

/** The long options a --help text lists (`--(no)x` as x), without the dashes. */
export function longOptions(help: string): string[] {
  const found = new Set<string>();
  for (const line of help.split('\n')) {
    const term = /^ {1,4}(-\S.*?)(?: {2,}|$)/.exec(line)?.[1];
    for (const m of term?.matchAll(/--(?:\(no\))?([A-Za-z0-9][\w-]*)/g) ?? []) found.add(m[1]!);
  }
  return [...found];
}
