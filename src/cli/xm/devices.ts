/**
 * `xm block-attach/-detach/-list` and `xm network-attach/-detach/-list`: disks and NICs of a
 * running domain. As with xl, a device attached this way is not written into the domain's cfg:
 * it lasts until the domain stops.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { parseDiskSpec } from '../../formats/xl-cfg-disk.js';
import { parseVifSpec } from '../../formats/xl-cfg-vif.js';
import type { BlockDevice, NetworkDevice } from '../../hypervisors/driver.js';
import { parseMac } from '../../model/mac.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

const NOT_PERSISTENT =
  "As with xl, the change is not written into the domain's cfg: it lasts until the domain stops " +
  '(an `xm reboot` keeps it); edit the cfg to keep it for the next start.';

/** The block-list table. */
export function renderBlockList(disks: readonly BlockDevice[]): string {
  const rows = disks.map((d) => [
    d.vdev,
    d.isCdrom ? `${d.format},cdrom` : d.format,
    d.access,
    d.hotplugged ? 'yes' : 'no',
    d.target,
  ]);
  return renderTable(['Vdev', 'Format', 'Access', 'Hotplug', 'Target'], rows);
}

/** The network-list table. */
export function renderNetworkList(nics: readonly NetworkDevice[]): string {
  const rows = nics.map((n) => [
    String(n.devid),
    n.mac,
    n.bridge ?? '(user)',
    n.model ?? 'virtio',
    n.hotplugged ? 'yes' : 'no',
  ]);
  return renderTable(['Idx', 'Mac Addr.', 'Bridge', 'Model', 'Hotplug'], rows);
}

/** Left-aligned columns two spaces apart, the last one unpadded. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

/** A NIC named by device ID (a whole number) or MAC address. */
export function parseNicRef(text: string): number | string {
  if (/^\d+$/.test(text)) return Number(text);
  return parseMac(text, 'NIC');
}

/** Registers the six device verbs. */
export function addDeviceCommands(program: Command, deps: DomainCommandDeps): void {
  const blockAttach = program
    .command('block-attach')
    .summary('hot-plug a disk into a running domain')
    .description(
      "Attach a disk to a running domain. DISK-SPEC is an xl disk spec as in a cfg's disk list " +
        "(xl-disk-configuration(5)): 'format=raw, vdev=xvdb, access=rw, target=/srv/data.img' or the " +
        "old 'file:/srv/data.img,xvdb,w'. Under QEMU the guest sees a virtio disk (/dev/vdX) on one of its " +
        'four hotplug slots; on Xen it is xl block-attach. ' +
        NOT_PERSISTENT,
    )
    .argument('<name>', 'domain name')
    .argument('<disk-spec...>', "xl disk spec (several arguments are joined with ',')");
  addCommonOptions(blockAttach).action(async (name: string, specs: string[], _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const spec = specs.join(',');
    const { disk } = parseDiskSpec(spec, `${session.prog} block-attach`);
    const domain = await session.findRunning(name, 'block-attach');
    await requireVerb(await session.driver(), 'blockAttach', 'block-attach')(name, disk);
    session.report(`Attached ${disk.target} to domain ${name} (id=${domain.id}) as ${disk.vdev}`, {
      ok: true,
      action: 'block-attach',
      domain: name,
      vdev: disk.vdev,
      target: disk.target,
    });
  });

  const blockDetach = program
    .command('block-detach')
    .summary('hot-unplug a disk from a running domain')
    .description(
      "Detach the disk the domain sees as VDEV (its cfg's or block-attach's vdev, e.g. xvdb). The guest is " +
        'asked to release it and the command waits until it has (up to a minute). Under QEMU only disks ' +
        'attached while the domain runs can be detached. ' +
        NOT_PERSISTENT,
    )
    .argument('<name>', 'domain name')
    .argument('<vdev>', 'guest device name, e.g. xvdb');
  addCommonOptions(blockDetach).action(async (name: string, vdev: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'block-detach');
    await requireVerb(await session.driver(), 'blockDetach', 'block-detach')(name, vdev);
    session.report(`Detached ${vdev} from domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'block-detach',
      domain: name,
      vdev,
    });
  });

  const blockList = program
    .command('block-list')
    .summary("list a running domain's disks")
    .description('List the disks of a running domain: those of its cfg and those attached since it started.')
    .argument('<name>', 'domain name');
  addCommonOptions(blockList).action(async (name: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    await session.findRunning(name, 'block-list');
    const disks = await requireVerb(await session.driver(), 'blockList', 'block-list')(name);
    if (session.json) session.printJson(disks);
    else session.print(renderBlockList(disks));
  });

  const networkAttach = program
    .command('network-attach')
    .summary('hot-plug a NIC into a running domain')
    .description(
      "Attach a NIC to a running domain. The optional arguments are an xl vif spec's pairs " +
        '(xl-network-configuration(5)): mac=, bridge=, model=, vifname=; without mac= one is made under ' +
        "Xen's prefix 00:16:3e. Under QEMU the NIC is virtio-net (or model=e1000/rtl8139) on a hotplug " +
        'slot: with bridge=BR on a tap enslaved to BR, which needs a guest whose QEMU runs in the ' +
        "host's network namespace (one with a bridged NIC in its cfg); without bridge= on the user " +
        'network, for guests whose QEMU has its own namespace (the default) or xenkit_host_loopback = 1. ' +
        'On Xen it is xl network-attach. ' +
        NOT_PERSISTENT,
    )
    .argument('<name>', 'domain name')
    .argument('[vif-spec...]', "vif spec pairs, e.g. bridge=xenbr0 mac=00:16:3e:12:34:56 (or one 'a=1,b=2')");
  addCommonOptions(networkAttach).action(async (name: string, pairs: string[], _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const spec = pairs.join(',');
    const { vif } = parseVifSpec(spec);
    if (vif.mac !== undefined) vif.mac = parseMac(vif.mac, `${session.prog} network-attach: mac`);
    for (const pair of spec.split(',').filter(Boolean)) {
      if (!pair.includes('=')) {
        throw usageError(
          'E_ARG',
          `vif spec "${spec}": "${pair}" is not KEY=VALUE`,
          'e.g. bridge=xenbr0 mac=00:16:3e:12:34:56',
        );
      }
    }
    const domain = await session.findRunning(name, 'network-attach');
    const nic = await requireVerb(await session.driver(), 'networkAttach', 'network-attach')(name, vif);
    session.report(`Attached NIC ${nic.devid} (${nic.mac}) to domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'network-attach',
      domain: name,
      ...nic,
    });
  });

  const networkDetach = program
    .command('network-detach')
    .summary('hot-unplug a NIC from a running domain')
    .description(
      'Detach the NIC with device ID DEVID (the Idx of network-list) or MAC address MAC, waiting until ' +
        'the guest has released it. Under QEMU only NICs attached while the domain runs can be detached. ' +
        NOT_PERSISTENT,
    )
    .argument('<name>', 'domain name')
    .argument('<devid-or-mac>', 'device ID or MAC address');
  addCommonOptions(networkDetach).action(async (name: string, which: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const ref = parseNicRef(which);
    const domain = await session.findRunning(name, 'network-detach');
    await requireVerb(await session.driver(), 'networkDetach', 'network-detach')(name, ref);
    session.report(`Detached NIC ${which} from domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'network-detach',
      domain: name,
      nic: ref,
    });
  });

  const networkList = program
    .command('network-list')
    .summary("list a running domain's NICs")
    .description('List the NICs of a running domain: device ID, MAC, bridge (or the user network), model.')
    .argument('<name>', 'domain name');
  addCommonOptions(networkList).action(async (name: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    await session.findRunning(name, 'network-list');
    const nics = await requireVerb(await session.driver(), 'networkList', 'network-list')(name);
    if (session.json) session.printJson(nics);
    else session.print(renderNetworkList(nics));
  });
}
