/**
 * DomainConfig -> libvirt domain XML (what `virsh define` takes). Pure and golden-tested; the
 * XML is checked by libvirt's own schema (`virt-xml-validate`) in the tests.
 *
 * Choices, with reasons:
 * - The same machine as the QEMU driver (q35, virtio disks and NICs in cfg order, the serial
 *   port as console, direct kernel boot): a guest sees the same devices under both drivers.
 * - Memory: `<memory>` is maxmem and `<currentMemory>` is memory: libvirt boots the guest with
 *   maxmem and its balloon holds it at memory, Xen's memory/maxmem; mem-set moves within that.
 * - `<vcpu current=vcpus>maxvcpus</vcpu>`: the rest are hot-pluggable (vcpu-set).
 * - CPU `maximum` under TCG (QEMU's `-cpu max`), `host-passthrough` under KVM.
 * - Under TCG, `<tcg><tb-cache>` sizes the translation cache as the QEMU driver does
 *   (`xenkit_tcg_cache`, else 96 MiB): left out, QEMU takes 1 GiB per guest. libvirt 8.0 and later
 *   pass it on; an older one ignores the element. Not for a guest that can gain vCPUs (maxvcpus
 *   above vcpus): libvirt always runs TCG multi-threaded, and a vCPU hot-added there needs a free
 *   region of the cache or QEMU aborts (see tcgThreading in hypervisors/qemu/argv.ts), which a
 *   small cache soon has none of; such a guest keeps QEMU's 1 GiB (the driver refuses an explicit
 *   `xenkit_tcg_cache` for it).
 * - `<seclabel model='dac' relabel='no'>` running QEMU as root: the images are root's 0600
 *   files in 0700 directories and the kernel may be one extracted into xenkit's state directory;
 *   libvirt's default (QEMU as libvirt-qemu, images chowned to it while the guest runs) would
 *   touch files and directories xenkit keeps private. It is the privilege QEMU has under the
 *   QEMU driver too.
 * - Lifecycle actions: libvirt's QEMU driver has no `preserve` (a defined domain stays listed
 *   when it stops anyway, so it becomes `destroy`) and no `soft-reset` or `rename-restart`
 *   (`restart`); coredump-* are on_crash actions only.
 */
import {
  canGainVcpus,
  TCG_CACHE_DEFAULT_MIB,
  type DiskConfig,
  type DomainConfig,
  type LifecycleAction,
  type VifConfig,
} from '../model/domain-config.js';
import { blockFormat, virtioDiskName } from '../model/virtio-disk.js';

/** The XML namespace of xenkit's `<metadata>` element in a domain. */
export const XENKIT_XMLNS = 'urn:xenkit:domain:1';

/** What the XML needs besides the domain config. */
export interface LibvirtXmlOptions {
  /** `kvm` when the connection offers it, else `qemu` (TCG). */
  domainType: 'kvm' | 'qemu';
  /** Direct kernel boot: host paths of the kernel and initrd, and the full command line. */
  kernel?: string | undefined;
  initrd?: string | undefined;
  cmdline?: string | undefined;
  /** The cfg the domain was made from, kept in the domain's metadata. */
  cfgPath?: string | undefined;
  /** The UUID libvirt knows the domain by (a redefinition must keep it); else the cfg's `uuid`, else libvirt makes one. */
  uuid?: string | undefined;
}

/** Escapes text for an XML attribute or element. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** libvirt's action for an xl lifecycle action (see the module comment). */
export function libvirtLifecycle(action: LifecycleAction, event: 'poweroff' | 'reboot' | 'crash'): string {
  switch (action) {
    case 'destroy':
    case 'preserve':
      return 'destroy';
    case 'restart':
    case 'rename-restart':
    case 'soft-reset':
      return 'restart';
    case 'coredump-destroy':
      return event === 'crash' ? action : 'destroy';
    case 'coredump-restart':
      return event === 'crash' ? action : 'restart';
  }
}

function diskXml(disk: DiskConfig, target: string): string[] {
  const x = escapeXml;
  const isBlock = disk.target.startsWith('/dev/');
  const type = isBlock ? 'block' : 'file';
  const source = isBlock ? `<source dev='${x(disk.target)}'/>` : `<source file='${x(disk.target)}'/>`;
  const driver = `<driver name='qemu' type='${x(blockFormat(disk.format))}'${disk.isCdrom ? '' : " discard='unmap'"}/>`;
  const readonly = disk.access === 'ro' || disk.isCdrom ? ['      <readonly/>'] : [];
  return [
    `    <disk type='${type}' device='${disk.isCdrom ? 'cdrom' : 'disk'}'>`,
    `      ${driver}`,
    `      ${source}`,
    disk.isCdrom
      ? `      <target dev='${target}' bus='sata'/>`
      : `      <target dev='${target}' bus='virtio'/>`,
    ...readonly,
    '    </disk>',
  ];
}

/** libvirt's NIC model for xl's `model=` (virtio unless the cfg names an emulated card). */
function nicModel(model: string | undefined): string {
  return model === 'e1000' || model === 'rtl8139' ? model : 'virtio';
}

function nicXml(vif: VifConfig): string[] {
  const x = escapeXml;
  const mac = vif.mac === undefined ? [] : [`      <mac address='${x(vif.mac.toLowerCase())}'/>`];
  const head =
    vif.bridge === undefined
      ? ["    <interface type='user'>"]
      : ["    <interface type='bridge'>", `      <source bridge='${x(vif.bridge)}'/>`];
  const name = vif.vifname === undefined ? [] : [`      <target dev='${x(vif.vifname)}'/>`];
  return [...head, ...mac, ...name, `      <model type='${nicModel(vif.model)}'/>`, '    </interface>'];
}

/** The `<uuid>` of a domain XML, if it has one. */
export function domainXmlUuid(xml: string): string | undefined {
  return /<uuid>\s*([0-9a-fA-F-]+)\s*<\/uuid>/.exec(xml)?.[1];
}

/** The domain XML of `dc`. */
export function renderDomainXml(dc: DomainConfig, opts: LibvirtXmlOptions): string {
  const x = escapeXml;
  const cfgUuid = typeof dc.raw.uuid === 'string' && dc.raw.uuid !== '' ? dc.raw.uuid : undefined;
  const uuidValue = opts.uuid ?? cfgUuid;
  const uuid = uuidValue !== undefined ? [`  <uuid>${x(uuidValue)}</uuid>`] : [];
  const metadata = opts.cfgPath
    ? [
        '  <metadata>',
        `    <xenkit:domain xmlns:xenkit='${XENKIT_XMLNS}'>`,
        `      <xenkit:cfg>${x(opts.cfgPath)}</xenkit:cfg>`,
        '    </xenkit:domain>',
        '  </metadata>',
      ]
    : [];
  const boot =
    opts.kernel !== undefined
      ? [
          `    <kernel>${x(opts.kernel)}</kernel>`,
          ...(opts.initrd !== undefined ? [`    <initrd>${x(opts.initrd)}</initrd>`] : []),
          ...(opts.cmdline !== undefined ? [`    <cmdline>${x(opts.cmdline)}</cmdline>`] : []),
        ]
      : ["    <boot dev='hd'/>"];
  let disks = 0;
  let cdroms = 0;
  const diskLines = dc.disks.flatMap((disk) =>
    diskXml(disk, disk.isCdrom ? `sd${String.fromCharCode(97 + cdroms++)}` : virtioDiskName(disks++)),
  );
  const cpu =
    opts.domainType === 'kvm'
      ? "  <cpu mode='host-passthrough'/>"
      : "  <cpu mode='maximum' migratable='on'/>";
  const tcg =
    opts.domainType === 'qemu' && !canGainVcpus(dc)
      ? [
          '    <tcg>',
          `      <tb-cache unit='MiB'>${dc.tcgCacheMiB ?? TCG_CACHE_DEFAULT_MIB}</tb-cache>`,
          '    </tcg>',
        ]
      : [];
  return [
    `<domain type='${opts.domainType}'>`,
    `  <name>${x(dc.name)}</name>`,
    ...uuid,
    ...metadata,
    `  <memory unit='MiB'>${dc.maxmem}</memory>`,
    `  <currentMemory unit='MiB'>${dc.memory}</currentMemory>`,
    `  <vcpu placement='static' current='${dc.vcpus}'>${dc.maxvcpus}</vcpu>`,
    '  <os>',
    "    <type arch='x86_64' machine='q35'>hvm</type>",
    ...boot,
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '    <apic/>',
    ...tcg,
    '  </features>',
    cpu,
    "  <clock offset='utc'/>",
    `  <on_poweroff>${libvirtLifecycle(dc.onPoweroff, 'poweroff')}</on_poweroff>`,
    `  <on_reboot>${libvirtLifecycle(dc.onReboot, 'reboot')}</on_reboot>`,
    `  <on_crash>${libvirtLifecycle(dc.onCrash, 'crash')}</on_crash>`,
    '  <devices>',
    ...diskLines,
    ...dc.vifs.flatMap(nicXml),
    "    <serial type='pty'>",
    "      <target port='0'/>",
    '    </serial>',
    "    <console type='pty'>",
    "      <target type='serial' port='0'/>",
    '    </console>',
    "    <memballoon model='virtio'/>",
    "    <rng model='virtio'>",
    "      <backend model='random'>/dev/urandom</backend>",
    '    </rng>',
    "    <panic model='isa'/>",
    '  </devices>',
    "  <seclabel type='static' model='dac' relabel='no'>",
    '    <label>+0:+0</label>',
    '  </seclabel>',
    '</domain>',
    '',
  ].join('\n');
}
