/** Helpers of the lab end-to-end test: the xm CLI under a scratch root, phases timed, QEMU found by name. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../src/tools/exec.js';
import { REPO, runBin, type CliResult } from '../helpers/cli.js';
import { parseXmList, type XmListRow } from './xm-list.js';

/** Runs `xm ARGS --root ROOT`; throws with everything it printed unless it exits 0. */
export async function xm(root: string, args: string[], timeoutMs = 300_000): Promise<CliResult> {
  const result = await runBin('xm', [...args, '--root', root], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(
      `xm ${args.join(' ')} exited ${result.code ?? result.signal}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result;
}

/** `xm list` parsed. */
export async function xmList(root: string): Promise<XmListRow[]> {
  return parseXmList((await xm(root, ['list'])).stdout);
}

/** The domain ID `xm create` / `xm start` reported for `name`. */
export function startedId(result: CliResult, name: string): number {
  const match = new RegExp(`Started domain ${name} \\(id=(\\d+)\\)`).exec(result.stdout);
  if (!match) throw new Error(`no "Started domain ${name} (id=N)" in:\n${result.stdout}`);
  return Number(match[1]);
}

/** PIDs of QEMU processes started for `name` (`-name NAME,...` in their argv). */
export async function qemuPids(name: string): Promise<number[]> {
  const result = await runCommand(['pgrep', '-f', `qemu-system.* -name ${name},`], { allowFailure: true });
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

/** Whether `pid` has ended: no such process, or a zombie its parent (here PID 1) has not reaped yet. */
export function isProcessGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Kills every QEMU of `name` (the last resort of a cleanup). */
export async function killQemu(name: string): Promise<void> {
  for (const pid of await qemuPids(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Builds a full bookworm guest NAME under ROOT with the real xen-create-image (mmdebstrap from the
 * mirror, its own kernel, DHCP, 2G ext4 root, the root password from ROOT/pw), plus `extra` options.
 */
export async function createLabGuest(root: string, name: string, extra: string[]): Promise<CliResult> {
  return runBin(
    'xen-create-image',
    [
      `--root=${root}`,
      `--hostname=${name}`,
      '--dist=bookworm',
      '--dir=/srv/xen',
      '--size=2G',
      '--dhcp',
      '--password-file=/pw',
      ...extra,
    ],
    { timeoutMs: 1_500_000 },
  );
}

/** Throws a clear error when the CLI has not been built (the bins load dist/). */
export function assertBuilt(): void {
  for (const file of ['dist/bundle/cli.mjs']) {
    if (!existsSync(path.join(REPO, file)))
      throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
}

/** Wall-clock durations of named phases, printed as a table at the end. */
export class PhaseClock {
  private readonly phases: { name: string; ms: number }[] = [];

  /** Runs `work`, recording how long it took under `name` (also when it fails). */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      const ms = Date.now() - started;
      this.phases.push({ name, ms });
      console.log(`[e2e] ${name}: ${(ms / 1000).toFixed(1)} s`);
    }
  }

  /** The phases as aligned lines. */
  render(): string {
    const width = Math.max(...this.phases.map((p) => p.name.length), 5);
    return this.phases
      .map((p) => `${p.name.padEnd(width)}  ${(p.ms / 1000).toFixed(1).padStart(7)} s`)
      .join('\n');
  }
}

/** Polls `probe` until `ok` accepts its value; returns the value, or throws with the last one. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 3_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
