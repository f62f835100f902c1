/**
 * Evidence from devices and kernel threads: paravirtual buses (xen, xen-backend, virtio), the
 * vendor prefix of NIC MACs, Xen's xenbus/xenwatch threads, the hardware clock, entropy sources.
 */
import type { Evidence, Hypervisor } from './evidence.js';
import { listRootDir, readRootText, rootExists, type ProbeRoot } from './probe-root.js';

const VIRTIO_IDS: Record<number, string> = {
  1: 'net',
  2: 'block',
  3: 'console',
  4: 'rng',
  5: 'balloon',
  8: 'scsi',
  9: '9p',
  16: 'gpu',
  18: 'input',
  19: 'vsock',
  26: 'fs',
};

/** Evidence from the xen, xen-backend and virtio buses. */
export async function busEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const out: Evidence[] = [];
  const xen = (await listRootDir(root, 'sys/bus/xen/devices')).map((d) => d.name);
  out.push({
    name: 'bus.xen',
    source: '/sys/bus/xen/devices',
    value: xen.length > 0 ? xen.join(' ') : 'none',
    meaning:
      xen.length > 0
        ? 'Xen frontend devices (vbd disks, vif NICs, console): this kernel is a Xen guest'
        : 'no Xen frontend devices',
    weight: xen.length > 0 ? 3 : 0,
    indicates: xen.length > 0 ? { kind: 'virtual', hypervisor: 'xen' } : { kind: 'none' },
  });
  const backend = (await listRootDir(root, 'sys/bus/xen-backend/devices')).map((d) => d.name);
  if (backend.length > 0) {
    out.push({
      name: 'bus.xen-backend',
      source: '/sys/bus/xen-backend/devices',
      value: backend.join(' '),
      meaning:
        'Xen backend devices: this domain serves disks or NICs to other domains (dom0 or a driver domain)',
      weight: 2,
      indicates: { kind: 'xen-role', role: 'dom0' },
    });
  }
  const frontends = xen.filter((d) => /^(vbd|vif|vscsi|9pfs|vkbd|vfb)-/.test(d));
  if (frontends.length > 0 && backend.length === 0) {
    out.push({
      name: 'xen.role-from-devices',
      source: '/sys/bus/xen/devices, /sys/bus/xen-backend/devices',
      value: `${frontends.length} frontends, no backends`,
      meaning: 'disks or NICs served by another domain and none served to others: a guest (domU)',
      weight: 2,
      indicates: { kind: 'xen-role', role: 'domU' },
    });
  }
  const virtio: string[] = [];
  for (const dev of await listRootDir(root, 'sys/bus/virtio/devices')) {
    const id = parseInt((await readRootText(root, `sys/bus/virtio/devices/${dev.name}/device`)) ?? '', 16);
    virtio.push(Number.isNaN(id) ? dev.name : `${dev.name}(${VIRTIO_IDS[id] ?? `id ${id}`})`);
  }
  out.push({
    name: 'bus.virtio',
    source: '/sys/bus/virtio/devices',
    value: virtio.length > 0 ? virtio.join(' ') : 'none',
    meaning:
      virtio.length > 0
        ? 'virtio devices: paravirtual hardware that a hypervisor offers (QEMU, KVM, Firecracker, ...)'
        : 'no virtio devices',
    weight: virtio.length > 0 ? 2 : 0,
    indicates: virtio.length > 0 ? { kind: 'virtual' } : { kind: 'none' },
  });
  return out;
}

/** Organizationally unique identifiers of virtual NICs. */
const MAC_PREFIXES: Record<string, [Hypervisor, string]> = {
  '00:16:3e': ['xen', 'Xen'],
  '52:54:00': ['qemu', 'QEMU/KVM (libvirt and QEMU defaults)'],
  '00:0c:29': ['vmware', 'VMware'],
  '00:50:56': ['vmware', 'VMware'],
  '00:05:69': ['vmware', 'VMware'],
  '08:00:27': ['virtualbox', 'VirtualBox'],
  '00:15:5d': ['hyperv', 'Hyper-V'],
  '00:1c:42': ['parallels', 'Parallels'],
};

/** Evidence from the MAC address of each NIC that has a device behind it. */
export async function macEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for (const nic of await listRootDir(root, 'sys/class/net')) {
    // Bridges, tunnels and veths have no device: their MACs are made up and say nothing.
    if (!(await rootExists(root, `sys/class/net/${nic.name}/device`))) continue;
    const mac = (await readRootText(root, `sys/class/net/${nic.name}/address`))?.trim().toLowerCase();
    if (!mac) continue;
    const hit = MAC_PREFIXES[mac.slice(0, 8)];
    const isLocal = (parseInt(mac.slice(0, 2), 16) & 2) !== 0;
    out.push({
      name: `mac.${nic.name}`,
      source: `/sys/class/net/${nic.name}/address`,
      value: mac,
      meaning: hit
        ? `the vendor prefix of ${hit[1]} virtual NICs (a weak hint: anyone can set a MAC)`
        : isLocal
          ? 'a locally administered MAC (set by software, not burnt in): says nothing either way'
          : 'a hardware vendor prefix',
      weight: hit ? 1 : 0,
      indicates: hit ? { kind: 'virtual', hypervisor: hit[0] } : { kind: 'none' },
    });
  }
  return out;
}

/** Kernel threads: the children of kthreadd (PID 2), by name. */
export async function kernelThreads(root: ProbeRoot): Promise<Map<string, number>> {
  const threads = new Map<string, number>();
  for (const entry of await listRootDir(root, 'proc')) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await readRootText(root, `proc/${entry.name}/stat`);
    const m = stat ? /^\d+ \((.*)\) \S+ (\d+) /.exec(stat) : null;
    if (m && m[2] === '2') threads.set(m[1]!, Number(entry.name));
  }
  return threads;
}

/** Evidence from Xen's kernel threads. */
export async function kthreadEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const threads = await kernelThreads(root);
  const xen = ['xenbus', 'xenwatch'].filter((t) => threads.has(t));
  return [
    {
      name: 'kthreads.xen',
      source: '/proc/*/stat (children of kthreadd)',
      value: xen.length > 0 ? xen.join(' ') : threads.size > 0 ? 'none' : 'no kernel threads visible',
      meaning:
        xen.length > 0
          ? 'the kernel runs the XenBus threads: it talks to a Xen hypervisor'
          : 'no xenbus/xenwatch threads',
      weight: xen.length > 0 ? 3 : 0,
      indicates: xen.length > 0 ? { kind: 'virtual', hypervisor: 'xen' } : { kind: 'none' },
    },
  ];
}

/** Evidence from the real-time clock: present, which driver, and whether it answers. */
export async function rtcEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const rtcs = (await listRootDir(root, 'sys/class/rtc')).map((d) => d.name);
  if (rtcs.length === 0) {
    return [
      {
        name: 'rtc',
        source: '/sys/class/rtc',
        value: 'none',
        meaning:
          'no hardware clock: usual for Xen PV guests and microVMs (Firecracker), rare on PCs (some boards have none)',
        weight: 1,
        indicates: { kind: 'virtual' },
      },
    ];
  }
  const rtc = rtcs[0]!;
  const name = (await readRootText(root, `sys/class/rtc/${rtc}/name`))?.trim() ?? '?';
  // Reading `time` asks the clock itself; a clock that does not answer fails the read.
  const time = (await readRootText(root, `sys/class/rtc/${rtc}/time`))?.trim();
  return [
    {
      name: 'rtc',
      source: `/sys/class/rtc/${rtc}`,
      value: `${name}${time ? `, time ${time}` : ', does not answer'}`,
      meaning: time
        ? 'a hardware clock answers (an emulated CMOS clock answers too: says little)'
        : 'a clock is registered but does not answer',
      weight: 0,
      indicates: { kind: 'none' },
    },
  ];
}

/** Evidence from the kernel's entropy: the hardware RNG in use and the entropy count. */
export async function entropyEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const out: Evidence[] = [];
  const rng = (await readRootText(root, 'sys/class/misc/hw_random/rng_current'))?.trim();
  const isVirtio = rng !== undefined && /^virtio_rng/.test(rng);
  out.push({
    name: 'entropy.hw_random',
    source: '/sys/class/misc/hw_random/rng_current',
    value: rng ?? 'absent',
    meaning: isVirtio
      ? 'the hardware RNG is virtio-rng: entropy handed in by a hypervisor'
      : rng && rng !== 'none'
        ? `a hardware RNG (${rng})`
        : 'no hardware RNG driver in use',
    weight: isVirtio ? 2 : 0,
    indicates: isVirtio ? { kind: 'virtual' } : { kind: 'none' },
  });
  const avail = (await readRootText(root, 'proc/sys/kernel/random/entropy_avail'))?.trim();
  if (avail !== undefined) {
    out.push({
      name: 'entropy.available',
      source: '/proc/sys/kernel/random/entropy_avail',
      value: avail,
      meaning:
        avail === '256'
          ? 'the CRNG is seeded (kernels from 5.18 always say 256 once it is)'
          : 'bits of entropy the kernel counts (low counts are usual in guests without virtio-rng)',
      weight: 0,
      indicates: { kind: 'none' },
    });
  }
  return out;
}
