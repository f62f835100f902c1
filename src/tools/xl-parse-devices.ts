/**
 * Parsers for xl's per-domain device and vCPU views: `xl vcpu-list` (a table printed by
 * xl_vcpu.c), and the disks and NICs of a domain's libxl config from `xl list -l` (libxl keeps
 * hot-plugged devices there too).
 */
import type { BlockDevice, NetworkDevice, VcpuInfo } from '../model/domain-state.js';

// "%-32s %5u %5u %5d  %c%c%c  %9.1f  HARD / SOFT": the name may hold spaces, so read from the right.
const VCPU_RE =
  /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+|-)\s+([-r][-b][-p])\s+(\d+(?:\.\d+)?)\s+(\S.*?)\s*\/\s*(\S.*)$/;

/** The rows of `xl vcpu-list NAME` for domain `name`. */
export function parseXlVcpuList(text: string, name: string): VcpuInfo[] {
  const rows: VcpuInfo[] = [];
  for (const line of text.split('\n')) {
    const m = VCPU_RE.exec(line.trimEnd());
    if (!m || m[1] !== name) continue;
    const state = m[5] ?? '---';
    rows.push({
      vcpu: Number(m[3]),
      cpu: m[4] === '-' ? undefined : Number(m[4]),
      running: state[0] === 'r',
      blocked: state[1] === 'b',
      online: state[2] !== 'p',
      timeSec: Number(m[6]),
      affinity: m[7] ?? 'all',
    });
  }
  return rows;
}

const asList = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The disks of one libxl_domain_config (the `config` of an `xl list -l` record). */
export function xlConfigDisks(config: Record<string, unknown>): BlockDevice[] {
  return asList(config.disks).map((d) => ({
    vdev: text(d.vdev) ?? '',
    target: text(d.pdev_path) ?? '',
    format: text(d.format) ?? 'raw',
    access: d.readwrite === 0 ? 'ro' : 'rw',
    isCdrom: d.is_cdrom === 1 || d.is_cdrom === true,
    // libxl does not say which disks came from the cfg.
    hotplugged: false,
    details: { backend: d.backend, backendDomid: d.backend_domid },
  }));
}

/** The NICs of one libxl_domain_config. */
export function xlConfigNics(config: Record<string, unknown>): NetworkDevice[] {
  return asList(config.nics).map((n, index) => ({
    devid: typeof n.devid === 'number' ? n.devid : index,
    mac: text(n.mac) ?? '',
    bridge: text(n.bridge),
    model: text(n.model),
    hotplugged: false,
    details: { ...(text(n.ip) ? { ip: n.ip } : {}), ...(text(n.script) ? { script: n.script } : {}) },
  }));
}
