/**
 * The real implementations behind DomainCommandDeps. The QEMU driver and the accel probe are
 * loaded on first use, so a command that does not need them never loads them.
 */
import { readFile } from 'node:fs/promises';
import { runtimeError } from '../../errors.js';
import { parseXlCfg } from '../../formats/xl-cfg-parse.js';
import type { DomainConfig } from '../../model/domain-config.js';
import type { Paths } from '../../paths.js';
import type { DriverKind } from '../../hypervisors/detect.js';
import type { HypervisorDriver } from '../../hypervisors/driver.js';
import { createXlDriver } from '../../hypervisors/xl/driver.js';
import type { AccelInfo } from './deps.js';

// Module paths kept in variables: these modules are written in parallel with this one.
const QEMU_DRIVER_MODULE = '../../hypervisors/qemu/driver.js';
const ACCEL_PROBE_MODULE = '../../hypervisors/accel-probe.js';

async function load<T>(specifier: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    // Only a missing module means "not built in"; a module that fails to load is a real bug.
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw runtimeError(
      'E_MODULE_MISSING',
      `${what} is not available in this build of xenkit`,
      undefined,
      error,
    );
  }
}

/** The real driver of each kind. */
export async function createDefaultDriver(kind: DriverKind, paths: Paths): Promise<HypervisorDriver> {
  if (kind === 'xl') return createXlDriver({ paths });
  const qemu = await load<{ createQemuDriver: (o: { paths: Paths }) => HypervisorDriver }>(
    QEMU_DRIVER_MODULE,
    'the QEMU driver',
  );
  return qemu.createQemuDriver({ paths });
}

/** Parses an xl.cfg with the real parser. */
export function parseDefaultConfig(text: string, file: string): DomainConfig {
  return parseXlCfg(text, file);
}

/** KVM or TCG, from the real probe. */
export async function probeDefaultAccel(): Promise<AccelInfo> {
  const probe = await load<{ probeAccel: () => Promise<AccelInfo> }>(ACCEL_PROBE_MODULE, 'the accel probe');
  return probe.probeAccel();
}

/** Seconds since the host booted, from /proc/uptime. */
export async function readHostUptimeSec(): Promise<number> {
  const text = await readFile('/proc/uptime', 'utf8');
  return Math.floor(Number(text.split(' ')[0]));
}
