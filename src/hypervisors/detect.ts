/**
 * Chooses the hypervisor driver: xl on a Xen dom0, QEMU everywhere else. An explicit choice
 * (`--driver`, XENKIT_DRIVER, the `driver` key of xenkit.conf) wins; libvirt is only ever chosen
 * that way (a libvirt daemon may run beside either without being meant). Every answer carries the evidence, for `xenkit info`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError, XenkitError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { DriverName } from './driver.js';
import { isNoHypervisorOutput, readXlInfo, type XlOptions } from '../tools/xl.js';

/** The drivers xenkit has. */
export type DriverKind = DriverName;

/** Which driver, and why. */
export interface DriverChoice {
  driver: DriverKind;
  reason: string;
}

/** Environment variable that forces a driver. */
export const DRIVER_ENV = 'XENKIT_DRIVER';

export interface DetectOptions {
  paths: Paths;
  /** `xl`, `qemu` or `libvirt`, from --driver or XENKIT_DRIVER; anything else is a usage error. */
  override?: string | undefined;
  /** Names the override in the reason (`--driver`, `XENKIT_DRIVER`). */
  overrideSource?: string;
  /** Where /proc and /sys are: `/` on a real host, a scratch tree in tests. */
  hostRoot?: string;
  /** Whether `xl info` works; injectable for tests. */
  probeXl?: () => Promise<{ ok: boolean; message: string }>;
  xl?: XlOptions;
}

/** Parses a driver name from the command line or the environment. */
export function parseDriverKind(value: string, source: string): DriverKind {
  const kind = value.trim().toLowerCase();
  if (kind === 'xl' || kind === 'qemu' || kind === 'libvirt') return kind;
  throw usageError(
    'E_DRIVER',
    `${source} "${value}" is not a driver`,
    'use xl (Xen dom0), qemu (KVM/TCG) or libvirt (a libvirt daemon, --connect URI)',
  );
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Runs `xl info` and reports whether it answered; the message is xl's own words when it did not. */
export async function probeXlInfo(xl: XlOptions = {}): Promise<{ ok: boolean; message: string }> {
  try {
    const info = await readXlInfo(xl);
    return { ok: true, message: `xl info answers (Xen ${info.xen_version ?? '?'})` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof XenkitError && isNoHypervisorOutput(`${message}\n${error.details ?? ''}`)) {
      return { ok: false, message: 'xl finds no Xen hypervisor' };
    }
    return { ok: false, message };
  }
}

/** Detects the driver for this host: xl when it is a Xen dom0, else qemu. */
export async function detectDriver(options: DetectOptions): Promise<DriverChoice> {
  if (options.override !== undefined && options.override !== '') {
    const source = options.overrideSource ?? '--driver';
    const driver = parseDriverKind(options.override, source);
    return { driver, reason: `chosen by ${source}=${driver}` };
  }
  const hostRoot = options.hostRoot ?? '/';
  const capsFile = path.join(hostRoot, 'proc/xen/capabilities');
  const typeFile = path.join(hostRoot, 'sys/hypervisor/type');
  const caps = await readText(capsFile);
  if (caps?.includes('control_d')) {
    return { driver: 'xl', reason: `${capsFile} has control_d: this host is a Xen dom0` };
  }
  const hypervisor = (await readText(typeFile))?.trim();
  if (hypervisor === 'xen') {
    const probe = await (options.probeXl ?? (() => probeXlInfo(options.xl)))();
    if (probe.ok) return { driver: 'xl', reason: `${typeFile} is xen and ${probe.message}` };
    return {
      driver: 'qemu',
      reason: `${typeFile} is xen but this is not a dom0 (${probe.message}): a Xen guest runs QEMU`,
    };
  }
  if (caps !== undefined) {
    return { driver: 'qemu', reason: `${capsFile} lacks control_d: a Xen guest (domU), not a dom0` };
  }
  return {
    driver: 'qemu',
    reason: hypervisor
      ? `the host runs under ${hypervisor}, not Xen`
      : `no Xen hypervisor (${capsFile} and ${typeFile} are absent)`,
  };
}
