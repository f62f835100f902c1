/**
 * What a Debian guest runs at every boot without needing it, switched off so the login prompt
 * comes sooner (under TCG each process started at boot costs CPU seconds; see bench/RESULTS.md):
 * - `e2scrub_reap.service` removes snapshots that an interrupted `e2scrub` left on LVM volumes;
 *   xenkit's guests have no LVM inside, and the unit runs a shell script with lsblk/lvs at boot.
 *   Disabled (its WantedBy link removed), so `systemctl enable` brings it back.
 * - `modprobe@drm` and `modprobe@efi_pstore` load modules for a display and for EFI variables;
 *   Xen and QEMU guests as xenkit starts them have neither. Masked (`systemctl unmask` undoes it).
 * - `modprobe@loop` and `modprobe@dm_mod` are started at every boot because systemd-repart.service
 *   wants them (even when repart has nothing to do, its condition fails only after they ran).
 *   Masked: both modules still load the moment something opens /dev/loop-control or
 *   /dev/mapper/control, whose nodes kmod-static-nodes creates at boot (losetup, LVM, cryptsetup).
 * - Blacklisted: `cfg80211` (the wireless stack, 1.1 MB), loaded by systemd-networkd's probe for
 *   the nl80211 netlink family (a Wi-Fi driver still loads it as a dependency); and the drivers
 *   udev loads for QEMU's q35 machine that a guest without a screen or sound cannot use: the PC
 *   speaker (`pcspkr`: QEMU has no audio backend for it) and the PS/2 mouse (`psmouse`,
 *   `serio_raw`). The PS/2 keyboard is built into the kernel and stays (`xm sysrq` uses it).
 *   Blacklisting stops the alias loads udev does, not an explicit `modprobe NAME`.
 * - `/etc/.updated` is written: `systemd-sysusers.service` runs only when /usr is newer than that
 *   file (`ConditionNeedsUpdate=/etc`), and Debian ships no `systemd-update-done.service` to
 *   write it, so the service ran at every boot (0.6 s on the way to the login prompt under TCG),
 *   with nothing to do: the packages' maintainer scripts run systemd-sysusers when they install
 *   their users. After an upgrade that changes /usr it runs again; removing the file brings back
 *   the run at every boot. Only where the guest has the service and not systemd-update-done.
 * - `systemd-network-generator.service` turns network options on the kernel command line (`ip=`,
 *   `nameserver=`, `vlan=`, ...) into networkd files. It has no condition, so it ran at every
 *   boot, and udevd waits for it (`Before=systemd-udevd.service`). A drop-in gives it one: the
 *   command line names one of the options it reads (systemd 252's list); an `ip=` from the cfg
 *   still runs it. Only where its unit imports no credentials (systemd 254 and later also read
 *   `network.*` credentials, which no condition can test for).
 */
import type { PlanAction } from '../plan/plan.js';
import { findUnitFile, hasUnit } from './systemd-units.js';
import type { CustomizeContext } from './types.js';

/** Units enabled by their packages that a guest does not need at boot. */
export const DISABLED_UNITS: readonly { unit: string; wantedBy: string }[] = [
  { unit: 'e2scrub_reap.service', wantedBy: 'multi-user.target' },
];

/** Static units masked in the guest. */
export const MASKED_UNITS: readonly string[] = [
  'modprobe@drm.service',
  'modprobe@efi_pstore.service',
  'modprobe@loop.service',
  'modprobe@dm_mod.service',
];

/** Modules kept from loading by alias (udev's coldplug, networkd's probe), with the reason. */
export const BLACKLISTED_MODULES: readonly { module: string; why: string }[] = [
  {
    module: 'cfg80211',
    why: 'the wireless stack, asked for by systemd-networkd (a Wi-Fi driver still loads it)',
  },
  { module: 'pcspkr', why: "QEMU's PC speaker, which has no audio backend" },
  { module: 'psmouse', why: "the PS/2 mouse of QEMU's machine: no screen to point at" },
  { module: 'serio_raw', why: 'raw access to the same PS/2 port' },
];

export const MODPROBE_CONF = '/etc/modprobe.d/xenkit-guest.conf';

/** The timestamp file of systemd's ConditionNeedsUpdate=/etc. */
export const ETC_UPDATED = '/etc/.updated';

/** `/etc/.updated` as of `now`: when /etc was last brought up to date with /usr. */
export function renderEtcUpdated(now: Date): string {
  return [
    '# Written by xenkit when it built this guest: /etc was then up to date with /usr (the',
    "# packages' maintainer scripts had made their system users). systemd-sysusers.service runs",
    '# only when /usr is newer than this file; Debian ships no systemd-update-done.service to',
    '# write it, so without it the service runs at every boot. Remove it to have that again.',
    `TIMESTAMP_NSEC=${BigInt(now.getTime()) * 1_000_000n}`,
    '',
  ].join('\n');
}

/** The modprobe.d file keeping modules a guest cannot use from loading at every boot. */
export function renderModprobeConf(): string {
  return [
    '# Written by xenkit: modules a Xen or QEMU guest loads at boot without any use for them',
    '# (each costs boot time under emulation). Remove a line to load that module again.',
    ...BLACKLISTED_MODULES.flatMap((m) => [`# ${m.why}`, `blacklist ${m.module}`]),
    '',
  ].join('\n');
}

const wantsLink = (d: { unit: string; wantedBy: string }): string =>
  `/etc/systemd/system/${d.wantedBy}.wants/${d.unit}`;

/** The unit whose run the drop-in below makes conditional. */
export const NETWORK_GENERATOR = 'systemd-network-generator.service';
export const NETWORK_GENERATOR_DROPIN = `/etc/systemd/system/${NETWORK_GENERATOR}.d/xenkit-cmdline.conf`;
/** The kernel command line options systemd 252's network generator reads. */
export const NETWORK_GENERATOR_OPTIONS: readonly string[] = [
  'ip',
  'rd.route',
  'nameserver',
  'rd.peerdns',
  'vlan',
  'bridge',
  'bond',
  'ifname',
  'net.ifname-policy',
];

/** The drop-in that runs the network generator only when the command line has work for it. */
export function renderNetworkGeneratorDropin(): string {
  return [
    '# Written by xenkit: run the generator only when the kernel command line has a network',
    '# option for it (it has nothing else to read here, and udevd waits for it at boot).',
    '# Remove this file to run it at every boot again.',
    '[Unit]',
    ...NETWORK_GENERATOR_OPTIONS.map((option) => `ConditionKernelCommandLine=|${option}`),
    '',
  ].join('\n');
}

/** Whether the guest's network generator reads the command line only (no credentials). */
function generatorReadsCmdlineOnly(c: CustomizeContext): boolean {
  const file = findUnitFile(c.editor, NETWORK_GENERATOR);
  const text = file === undefined ? undefined : c.editor.read(file);
  return text !== undefined && !/Credential/i.test(text);
}

/** What the step does. */
export function describeBootTrim(): PlanAction[] {
  return [
    ...DISABLED_UNITS.map((d): PlanAction => ({ kind: 'remove', path: wantsLink(d) })),
    ...MASKED_UNITS.map((unit): PlanAction => ({
      kind: 'symlink',
      path: `/etc/systemd/system/${unit}`,
      target: '/dev/null',
    })),
    { kind: 'write', path: MODPROBE_CONF, mode: 0o644, content: renderModprobeConf() },
    {
      kind: 'note',
      text: `write ${ETC_UPDATED} (when /etc was last brought up to date with /usr) unless there is one, if the guest has systemd-sysusers.service and no systemd-update-done.service`,
    },
    {
      kind: 'note',
      text: `write ${NETWORK_GENERATOR_DROPIN} (run ${NETWORK_GENERATOR} only for network options on the kernel command line) unless there is one, if the guest's generator imports no credentials`,
    },
  ];
}

/** Disables and masks the units above (where the guest has them) and writes the modprobe.d file. */
export async function applyBootTrim(c: CustomizeContext): Promise<void> {
  for (const d of DISABLED_UNITS) c.editor.remove(wantsLink(d));
  for (const unit of MASKED_UNITS) {
    const path = `/etc/systemd/system/${unit}`;
    // Only units the guest ships, and never over a unit file the owner put there.
    if (findUnitFile(c.editor, unit) === undefined || c.editor.isPresent(path)) continue;
    c.editor.symlink(path, '/dev/null');
  }
  c.editor.mkdir('/etc/modprobe.d', { mode: 0o755 });
  c.editor.writeFile(MODPROBE_CONF, renderModprobeConf(), { mode: 0o644 });
  if (
    hasUnit(c.editor, 'systemd-sysusers.service') &&
    !hasUnit(c.editor, 'systemd-update-done.service') &&
    !c.editor.isPresent(ETC_UPDATED)
  )
    c.editor.writeFile(ETC_UPDATED, renderEtcUpdated(new Date()), { mode: 0o644 });
  if (generatorReadsCmdlineOnly(c) && !c.editor.isPresent(NETWORK_GENERATOR_DROPIN)) {
    c.editor.mkdir(`/etc/systemd/system/${NETWORK_GENERATOR}.d`, { mode: 0o755 });
    c.editor.writeFile(NETWORK_GENERATOR_DROPIN, renderNetworkGeneratorDropin(), { mode: 0o644 });
  }
}
