/**
 * Evidence from what the kernel says about its platform: /sys/hypervisor, /proc/xen/capabilities,
 * DMI (firmware tables), the kernel log's own "Hypervisor detected" line, and the clocksource.
 */
import { promises as fs } from 'node:fs';
import type { Evidence, Hypervisor, XenMode } from './evidence.js';
import { printable } from './evidence.js';
import { readRootText, rootPath, whyUnreadable, type ProbeRoot } from './probe-root.js';

/** Evidence from /sys/hypervisor (type, guest_type) and /proc/xen/capabilities. */
export async function hypervisorSysfsEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const out: Evidence[] = [];
  const type = (await readRootText(root, 'sys/hypervisor/type'))?.trim();
  out.push({
    name: 'sys.hypervisor.type',
    source: '/sys/hypervisor/type',
    value: type ?? 'absent',
    meaning:
      type === undefined
        ? 'the kernel registered no hypervisor interface (only Xen, and s390 z/VM, fill it)'
        : `the kernel runs on ${type} and talks to it`,
    weight: type === undefined ? 0 : 5,
    indicates:
      type === undefined
        ? { kind: 'none' }
        : { kind: 'virtual', ...(type === 'xen' ? { hypervisor: 'xen' } : {}) },
  });
  if (type === 'xen') {
    const guestType = (await readRootText(root, 'sys/hypervisor/guest_type'))?.trim();
    if (guestType) {
      const mode = guestType.toLowerCase();
      const isMode = mode === 'pv' || mode === 'pvh' || mode === 'hvm';
      out.push({
        name: 'sys.hypervisor.guest_type',
        source: '/sys/hypervisor/guest_type',
        value: guestType,
        meaning: isMode ? `this Xen domain runs in ${guestType} mode` : 'an unknown Xen guest type',
        weight: isMode ? 5 : 0,
        indicates: isMode ? { kind: 'xen-mode', mode: mode as XenMode } : { kind: 'none' },
      });
    }
    // The domain's UUID from xenstore: all zeros for dom0, whose /vm path is /vm/00000000-...
    const uuid = (await readRootText(root, 'sys/hypervisor/uuid'))?.trim();
    if (uuid && /^[0-9a-f-]{36}$/i.test(uuid)) {
      const isDom0 = /^[0-]+$/.test(uuid);
      out.push({
        name: 'sys.hypervisor.uuid',
        source: '/sys/hypervisor/uuid',
        value: uuid,
        meaning: isDom0 ? 'the all-zero domain UUID of dom0' : 'a domain UUID of its own: a guest (domU)',
        weight: 3,
        indicates: { kind: 'xen-role', role: isDom0 ? 'dom0' : 'domU' },
      });
    }
    const major = (await readRootText(root, 'sys/hypervisor/version/major'))?.trim();
    const minor = (await readRootText(root, 'sys/hypervisor/version/minor'))?.trim();
    if (major !== undefined) {
      out.push({
        name: 'sys.hypervisor.version',
        source: '/sys/hypervisor/version',
        value: `${major}.${minor ?? '?'}`,
        meaning: `Xen ${major}.${minor ?? '?'}`,
        weight: 0,
        indicates: { kind: 'none' },
      });
    }
  }
  const caps = await readRootText(root, 'proc/xen/capabilities');
  const capsWhy = caps === undefined ? await whyUnreadable(root, 'proc/xen/capabilities') : undefined;
  if (caps !== undefined) {
    const isDom0 = caps.includes('control_d');
    out.push({
      name: 'xen.capabilities',
      source: '/proc/xen/capabilities',
      value: printable(caps) || 'empty',
      meaning: isDom0
        ? 'this domain controls the others: the Xen dom0'
        : 'xenfs is mounted but this domain has no control_d: an unprivileged guest (domU)',
      weight: 5,
      indicates: { kind: 'xen-role', role: isDom0 ? 'dom0' : 'domU' },
    });
  } else if (type === 'xen') {
    out.push({
      name: 'xen.capabilities',
      source: '/proc/xen/capabilities',
      value: capsWhy ?? 'absent',
      meaning: 'xenfs is not mounted here, so the domain role must come from other evidence',
      weight: 0,
      indicates: { kind: 'none' },
    });
  }
  return out;
}

/** What DMI strings name, by pattern (first match wins). */
const DMI_PATTERNS: [RegExp, Hypervisor | undefined, string][] = [
  [
    /^QEMU$|^Standard PC \(|^SeaBIOS$|^Bochs$|^EDK II$/i,
    'qemu',
    'QEMU (SeaBIOS/OVMF firmware and machine names)',
  ],
  [/^KVM$|^RHEV Hypervisor|^OpenStack/i, 'kvm', 'KVM'],
  [/^Xen$|^HVM domU$/i, 'xen', 'Xen HVM firmware'],
  [/VMware/i, 'vmware', 'VMware'],
  [/^innotek GmbH$|^VirtualBox$/i, 'virtualbox', 'VirtualBox'],
  [/^BHYVE$/i, 'bhyve', 'bhyve'],
  [/^Parallels/i, 'parallels', 'Parallels'],
  [/^Amazon EC2$/i, 'amazon', 'Amazon EC2 (Nitro: KVM-based)'],
  [/^Google Compute Engine$|^Google$/i, 'google', 'Google Compute Engine (KVM-based)'],
  [/^Virtual Machine$|^Hyper-V/i, 'hyperv', 'Microsoft Hyper-V'],
];

/** Evidence from DMI: system vendor, product name and BIOS vendor. */
export async function dmiEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const fields = ['sys_vendor', 'product_name', 'bios_vendor'] as const;
  const values = await Promise.all(fields.map((f) => readRootText(root, `sys/class/dmi/id/${f}`)));
  if (values.every((v) => v === undefined)) {
    return [
      {
        name: 'dmi',
        source: '/sys/class/dmi/id',
        value: 'absent',
        meaning:
          'no firmware tables (DMI/SMBIOS): a machine booted without PC firmware, such as a Xen PV guest or a microVM (Firecracker), or a board without SMBIOS',
        weight: 1,
        indicates: { kind: 'virtual' },
      },
    ];
  }
  return fields.map((field, i): Evidence => {
    const value = printable(values[i] ?? '');
    const hit = value ? DMI_PATTERNS.find(([re]) => re.test(value)) : undefined;
    return {
      name: `dmi.${field}`,
      source: `/sys/class/dmi/id/${field}`,
      value: value || 'absent',
      meaning: hit
        ? `the firmware names ${hit[2]}`
        : value
          ? 'a name no hypervisor is known to use'
          : 'not filled in',
      weight: hit ? 3 : 0,
      indicates: hit ? { kind: 'virtual', ...(hit[1] ? { hypervisor: hit[1] } : {}) } : { kind: 'none' },
    };
  });
}

/** Kernel log lines worth reading, and what they mean. */
const KERNEL_LINES: [RegExp, (m: RegExpExecArray) => Evidence['indicates'], string][] = [
  [
    /Hypervisor detected: (.+)$/,
    (m) => hypervisorOfKernelName(m[1]!),
    'the kernel itself identified its hypervisor at boot',
  ],
  [
    /Booting (?:paravirtualized )?kernel on (.+)$/,
    (m) => hypervisorOfKernelName(m[1]!),
    'the kernel booted with paravirtual support for its hypervisor',
  ],
];

/** The hypervisor a kernel log name means (`KVM`, `Xen PV`, `Xen HVM`, `PVM`, `VMware`, `Microsoft Hyper-V`, `bare hardware`). */
export function hypervisorOfKernelName(name: string): Evidence['indicates'] {
  const n = name.trim();
  if (/bare hardware/i.test(n)) return { kind: 'bare-metal' };
  if (/^Xen PVH/i.test(n)) return { kind: 'virtual', hypervisor: 'xen' };
  if (/^Xen/i.test(n)) return { kind: 'virtual', hypervisor: 'xen' };
  if (/^PVM/i.test(n)) return { kind: 'virtual', hypervisor: 'pvm' };
  if (/KVM/i.test(n)) return { kind: 'virtual', hypervisor: 'kvm' };
  if (/VMware/i.test(n)) return { kind: 'virtual', hypervisor: 'vmware' };
  if (/Hyper-V/i.test(n)) return { kind: 'virtual', hypervisor: 'hyperv' };
  if (/ACRN/i.test(n)) return { kind: 'virtual', hypervisor: 'acrn' };
  if (/Jailhouse|QNX/i.test(n)) return { kind: 'virtual' };
  return { kind: 'virtual' };
}

/** The Xen mode a kernel log line tells (`Xen PV`, `Xen HVM`, `Xen PVH`), if any. */
export function xenModeOfKernelName(name: string): XenMode | undefined {
  const m = /^Xen (PVH|PV|HVM)\b/i.exec(name.trim());
  return m ? (m[1]!.toLowerCase() as XenMode) : undefined;
}

/** The message text of kernel log lines: `[ 0.000000] text` (dmesg) or `6,12,0,-;text` (/dev/kmsg). */
export function kernelMessages(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/^\d+,\d+,\d+,[^;]*;/, '').replace(/^\[\s*[\d.]+\]\s*/, ''))
    .filter((l) => l.length > 0 && !/^ [A-Z]+=/.test(l));
}

/**
 * Reads the kernel log: /dev/kmsg record by record (non-blocking, from the start of the ring
 * buffer) when it is the device, its text when a capture put a file there. Undefined when
 * neither can be read (not root with dmesg_restrict).
 */
export async function readKernelLog(
  root: ProbeRoot,
): Promise<{ text: string; source: string } | { reason: string }> {
  const file = rootPath(root, 'dev/kmsg');
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    return { reason: `${file} is absent` };
  }
  if (stat.isFile())
    return { text: (await readRootText(root, 'dev/kmsg')) ?? '', source: '/dev/kmsg (captured)' };
  let handle;
  try {
    handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    return { reason: `/dev/kmsg cannot be opened (${(error as NodeJS.ErrnoException).code})` };
  }
  const lines: string[] = [];
  try {
    const buf = Buffer.alloc(16384);
    // One record per read; EAGAIN at the end of the buffer, EPIPE for a record overwritten meanwhile.
    for (let i = 0; i < 100_000; i += 1) {
      try {
        const { bytesRead } = await handle.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        lines.push(buf.toString('utf8', 0, bytesRead).split('\n')[0]!);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
    }
  } finally {
    await handle.close();
  }
  return { text: lines.join('\n'), source: '/dev/kmsg' };
}

/** Evidence from the kernel log's hypervisor lines. */
export async function kernelLogEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const log = await readKernelLog(root);
  if ('reason' in log) {
    return [
      {
        name: 'kernel.hypervisor-detected',
        source: 'kernel log',
        value: 'unreadable',
        meaning: `the kernel log could not be read: ${log.reason}`,
        weight: 0,
        indicates: { kind: 'none' },
      },
    ];
  }
  const out: Evidence[] = [];
  for (const message of kernelMessages(log.text)) {
    for (const [re, indicate, meaning] of KERNEL_LINES) {
      const m = re.exec(message);
      if (!m) continue;
      const indicates = indicate(m);
      const isDetected = re === KERNEL_LINES[0]![0];
      out.push({
        name: isDetected ? 'kernel.hypervisor-detected' : 'kernel.booting-on',
        source: log.source,
        value: message,
        meaning,
        // The boot banner repeats what the detection line said: it adds less.
        weight: indicates.kind === 'bare-metal' ? 2 : isDetected ? 5 : 3,
        indicates,
      });
      const mode = xenModeOfKernelName(m[1]!);
      if (mode) {
        out.push({
          name: 'kernel.xen-mode',
          source: log.source,
          value: message,
          meaning: `the kernel booted as a Xen ${mode.toUpperCase()} domain`,
          weight: 3,
          indicates: { kind: 'xen-mode', mode },
        });
      }
    }
  }
  if (out.length === 0) {
    const first = /^\[\s*([\d.]+)\]|^\d+,\d+,(\d+),/.exec(log.text);
    const startsAt = first ? Number(first[1] ?? Number(first[2]) / 1e6) : 0;
    out.push({
      name: 'kernel.hypervisor-detected',
      source: log.source,
      value: startsAt > 0 ? `no such line (the log starts at ${startsAt.toFixed(1)} s)` : 'no such line',
      meaning:
        startsAt > 0
          ? 'the boot lines have rotated out of the kernel ring buffer, so the kernel log cannot tell'
          : 'the kernel log names no hypervisor',
      weight: 0,
      indicates: { kind: 'none' },
    });
  }
  return out;
}

/** Clocksources that only exist under a hypervisor. */
const CLOCKSOURCES: Record<string, [Hypervisor | undefined, string]> = {
  'kvm-clock': ['kvm', 'the KVM paravirtual clock (KVM, or a hypervisor speaking its interface)'],
  xen: ['xen', 'the Xen paravirtual clock'],
  hyperv_clocksource_tsc_page: ['hyperv', 'the Hyper-V reference clock'],
  hyperv_clocksource_msr: ['hyperv', 'the Hyper-V reference clock'],
  'vmware-tsc': ['vmware', 'the VMware clock'],
};

/** Evidence from the current clocksource. */
export async function clocksourceEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const rel = 'sys/devices/system/clocksource/clocksource0/current_clocksource';
  const value = (await readRootText(root, rel))?.trim();
  const known = value ? CLOCKSOURCES[value] : undefined;
  return [
    {
      name: 'clocksource',
      source: `/${rel}`,
      value: value ?? 'absent',
      meaning: known
        ? `the kernel keeps time with ${known[1]}`
        : value
          ? `a hardware clocksource (${value}): says nothing either way (guests use tsc too)`
          : 'unknown',
      weight: known ? 3 : 0,
      indicates: known
        ? { kind: 'virtual', ...(known[0] ? { hypervisor: known[0] } : {}) }
        : { kind: 'none' },
    },
  ];
}
