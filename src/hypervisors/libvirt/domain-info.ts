/** libvirt's view of a running domain (`virsh list` row + `virsh domstats` fields) as a DomainInfo. */
import type { DomainInfo, DomainState } from '../../model/domain-state.js';
import type { VirshListRow } from '../../tools/virsh.js';

/** libvirt's numeric domain state (virDomainState) as Xen's state letters. */
export function stateFromLibvirt(state: number): DomainState {
  return {
    running: state === 1,
    blocked: state === 2,
    paused: state === 3 || state === 7,
    shutdown: state === 4 || state === 5,
    crashed: state === 6,
    dying: false,
  };
}

const num = (fields: Record<string, string>, key: string): number => {
  const value = Number(fields[key]);
  return Number.isFinite(value) ? value : 0;
};

/** Merges one `virsh list` row (it has an ID: the domain runs) with its domstats fields. */
export function toDomainInfo(row: VirshListRow, fields: Record<string, string>, uri: string): DomainInfo {
  const memoryMiB = Math.floor(num(fields, 'balloon.current') / 1024);
  const vcpus = num(fields, 'vcpu.current');
  return {
    name: row.name,
    id: row.id ?? 0,
    memoryMiB,
    maxMemoryMiB: Math.max(Math.floor(num(fields, 'balloon.maximum') / 1024), memoryMiB),
    vcpus,
    maxVcpus: Math.max(num(fields, 'vcpu.maximum'), vcpus),
    state: stateFromLibvirt(num(fields, 'state.state')),
    cpuTimeSec: num(fields, 'cpu.time') / 1e9,
    // libvirt reports no start time.
    startedAt: undefined,
    cfgPath: undefined,
    details: { driver: 'libvirt', uri, libvirtState: row.state },
  };
}
