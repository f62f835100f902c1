/**
 * "Is this guest running?" before any command touches its images: the QEMU runtime registry
 * (a live QEMU process recorded for the name) or, on a Xen host, `xl list NAME`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../paths.js';
import { openRegistry } from '../hypervisors/qemu/registry.js';
import { runtimeError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { runCommand } from '../tools/exec.js';

/** Where a running guest was seen. */
export type RunningEvidence =
  { running: false } | { running: true; by: 'qemu'; pid: number } | { running: true; by: 'xl' };

export interface RunningCheckOptions {
  sink?: EventSink;
  /** The xl binary; `false` skips the Xen check (tests). Default `xl` on PATH, asked on Xen only. */
  xl?: string | false;
  /** Where /sys is looked for (tests). Default `/`. */
  sysRoot?: string;
}

/** Whether this kernel runs on Xen (dom0 or domU): `/sys/hypervisor/type` says `xen`. */
async function underXen(sysRoot: string): Promise<boolean> {
  try {
    return (await fs.readFile(path.join(sysRoot, 'sys/hypervisor/type'), 'utf8')).trim() === 'xen';
  } catch {
    return false;
  }
}

/** Whether `name` runs under the QEMU driver (registry) or Xen (`xl list NAME` exits 0). */
export async function checkGuestRunning(
  name: string,
  paths: Paths,
  options: RunningCheckOptions = {},
): Promise<RunningEvidence> {
  const record = await openRegistry(paths).read(name);
  if (record) return { running: true, by: 'qemu', pid: record.pid };
  if (options.xl === false) return { running: false };
  // Not under Xen at all (no /sys/hypervisor/type saying xen): no domain can run, skip xl.
  if (options.xl === undefined && !(await underXen(options.sysRoot ?? '/'))) return { running: false };
  // Like xen-tools' xenRunning: xl answers 0 only for a domain it knows; a host that is not a
  // dom0 (or has no xl) makes it fail, which means "not running under Xen".
  const result = await runCommand([options.xl ?? 'xl', 'list', name], {
    allowFailure: true,
    sink: options.sink,
    timeoutMs: 15_000,
  }).catch(() => undefined);
  if (result?.exitCode === 0 && result.stdout.includes(name)) return { running: true, by: 'xl' };
  return { running: false };
}

/** Whether `name` is running (see checkGuestRunning). */
export async function isGuestRunning(
  name: string,
  paths: Paths,
  options: RunningCheckOptions = {},
): Promise<boolean> {
  return (await checkGuestRunning(name, paths, options)).running;
}

/** Throws E_RUNNING naming the guest when it runs: nothing may change its images then. */
export async function refuseRunningGuest(
  name: string,
  paths: Paths,
  what: string,
  options: RunningCheckOptions = {},
): Promise<void> {
  const seen = await checkGuestRunning(name, paths, options);
  if (!seen.running) return;
  const where = seen.by === 'qemu' ? `under QEMU (pid ${seen.pid})` : 'under Xen (xl list)';
  throw runtimeError(
    'E_RUNNING',
    `guest "${name}" is running ${where}; will not ${what} a running guest`,
    `shut it down first: xenkit shutdown ${name} (or xm shutdown ${name})`,
  );
}
