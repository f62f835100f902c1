/**
 * The real implementations behind DomainCommandDeps. The QEMU and libvirt drivers and the accel probe are
 * loaded on first use, so a command that does not need them never loads them.
 */
import { readFile } from 'node:fs/promises';
import { parseXlCfg } from '../../formats/xl-cfg-parse.js';
import type { EventSink } from '../../log/events.js';
import type { DomainConfig } from '../../model/domain-config.js';
import type { Paths } from '../../paths.js';
import type { DriverKind } from '../../hypervisors/detect.js';
import type { HypervisorDriver } from '../../hypervisors/driver.js';
import { createXlDriver } from '../../hypervisors/xl/driver.js';
import { DEFAULT_CONNECT_URI } from '../../tools/virsh.js';
import type { AccelInfo } from './deps.js';

/** The real driver of each kind. */
export async function createDefaultDriver(
  kind: DriverKind,
  paths: Paths,
  sink?: EventSink,
  uri: string = DEFAULT_CONNECT_URI,
): Promise<HypervisorDriver> {
  if (kind === 'xl') return createXlDriver({ paths });
  if (kind === 'libvirt') {
    const { createLibvirtDriver } = await import('../../hypervisors/libvirt/driver.js');
    return createLibvirtDriver({ paths, uri, ...(sink ? { sink } : {}) });
  }
  const { createQemuDriver } = await import('../../hypervisors/qemu/driver.js');
  return createQemuDriver({ paths, ...(sink ? { sink } : {}) });
}

/** Parses an xl.cfg with the real parser. */
export function parseDefaultConfig(text: string, file: string): DomainConfig {
  return parseXlCfg(text, file);
}

/** KVM or TCG, from the real probe. */
export async function probeDefaultAccel(): Promise<AccelInfo> {
  const { probeAccel } = await import('../../hypervisors/accel-probe.js');
  return probeAccel();
}

/** Seconds since the host booted, from /proc/uptime. */
export async function readHostUptimeSec(): Promise<number> {
  const text = await readFile('/proc/uptime', 'utf8');
  return Math.floor(Number(text.split(' ')[0]));
}
