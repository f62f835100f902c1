import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  capabilitiesHaveKvm,
  listVirshDomains,
  parseDomstats,
  parseVirshFields,
  parseVirshList,
  readVirshState,
  runVirsh,
  virshConsoleArgv,
} from '../../src/tools/virsh.js';
import { makeFakeVirsh, type FakeVirsh } from '../hypervisors/libvirt/fake-virsh.js';

const recorded = (name: string): string =>
  readFileSync(path.join(import.meta.dirname, 'fixtures/virsh-9.0', name), 'utf8');

describe('the virsh parsers, on what virsh 9.0 printed', () => {
  it('reads `virsh list --all` rows: ID (none when off), name and state', () => {
    expect(parseVirshList(recorded('list-all.out'))).toEqual([{ id: 10, name: 'xklv1', state: 'paused' }]);
    expect(
      parseVirshList(' Id   Name   State\n---\n -    web1   shut off\n 3    db     in shutdown\n'),
    ).toEqual([
      { id: undefined, name: 'web1', state: 'shut off' },
      { id: 3, name: 'db', state: 'in shutdown' },
    ]);
  });

  it('reads `virsh domstats` per domain', () => {
    const stats = parseDomstats(recorded('domstats.out')).get('xklv1');
    expect(stats).toMatchObject({
      'state.state': '3',
      'balloon.current': '262144',
      'vcpu.current': '2',
      'vcpu.maximum': '2',
    });
  });

  it('reads Key: value lines (nodeinfo, schedinfo)', () => {
    expect(parseVirshFields(recorded('nodeinfo.out'))).toMatchObject({ 'CPU(s)': '2' });
    expect(parseVirshFields(recorded('schedinfo.out'))).toMatchObject({
      cpu_shares: '1024',
      global_quota: '-1',
    });
  });

  it('finds KVM in the capabilities only where a guest of x86_64 offers it on a CPU with vmx or svm', () => {
    const svm = "<feature name='vme'/><feature name='svm'/>";
    const tcgOnly = recorded('capabilities.xml').replace("<feature name='vme'/>", svm);
    const kvm = "<domain type='qemu'/><domain type='kvm'/>";
    expect(capabilitiesHaveKvm(tcgOnly)).toBe(false);
    // The first guest of the recorded capabilities is i386: KVM there alone does not count.
    expect(capabilitiesHaveKvm(tcgOnly.replace("<domain type='qemu'/>", kvm))).toBe(false);
    expect(capabilitiesHaveKvm(tcgOnly.replaceAll("<domain type='qemu'/>", kvm))).toBe(true);
    // The same host CPU without svm: a /dev/kvm libvirt can open, whose guests never boot.
    const withoutSvm = tcgOnly.replaceAll("<domain type='qemu'/>", kvm).replace(svm, "<feature name='vme'/>");
    expect(capabilitiesHaveKvm(withoutSvm)).toBe(false);
  });

  it('does not count KVM that libvirt offers on a host CPU without vmx or svm (recorded on such a machine)', () => {
    const xml = recorded('capabilities-kvm-without-vmx.xml');
    expect(xml).toMatch(/<domain type='kvm'\/>/);
    expect(capabilitiesHaveKvm(xml)).toBe(false);
    expect(capabilitiesHaveKvm(xml.replace("<feature name='vme'/>", "<feature name='vmx'/>"))).toBe(true);
  });
});

describe('running virsh', () => {
  let fake: FakeVirsh;
  afterEach(() => fake.cleanup());

  it('names the URI in every call', async () => {
    fake = makeFakeVirsh();
    fake.reply('list', { out: recorded('list-all.out') });
    expect(await listVirshDomains(fake.virsh, false)).toHaveLength(1);
    expect(fake.calls()).toEqual(['--connect qemu:///system list']);
    expect(virshConsoleArgv('web1', fake.virsh)).toEqual([
      'virsh',
      '--connect',
      'qemu:///system',
      'console',
      'web1',
    ]);
  });

  it('makes a daemon that cannot be reached a usage error naming the URI (exit 2)', async () => {
    fake = makeFakeVirsh();
    fake.reply('list', {
      err: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n",
      rc: 1,
    });
    await expect(listVirshDomains(fake.virsh)).rejects.toMatchObject({
      code: 'E_LIBVIRT_CONNECT',
      kind: 'usage',
      message:
        "cannot reach libvirt at qemu:///system: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
    });
  });

  it('makes a daemon that goes away mid-command a runtime error naming the URI (exit 1)', async () => {
    fake = makeFakeVirsh();
    // What virsh 9.0 printed when the daemon behind the URI was killed during the call.
    fake.reply('domstats', { err: 'error: End of file while reading data: Input/output error\n', rc: 1 });
    await expect(runVirsh(['domstats'], fake.virsh)).rejects.toMatchObject({
      code: 'E_LIBVIRT_LOST',
      kind: 'runtime',
      message:
        'libvirt at qemu:///system stopped answering during virsh domstats: End of file while reading data: Input/output error',
    });
  });

  it("keeps virsh's last line in other failures", async () => {
    fake = makeFakeVirsh();
    fake.reply('start', { err: 'error: Failed to start domain\nerror: internal error: boom\n', rc: 1 });
    await expect(runVirsh(['start', 'web1'], fake.virsh)).rejects.toMatchObject({
      code: 'E_VIRSH',
      message: 'virsh start on qemu:///system failed: internal error: boom',
    });
  });

  it('reads the state of a domain, or none when libvirt has no such domain', async () => {
    fake = makeFakeVirsh();
    fake.reply('domstate_web1', { out: 'shut off\n\n' });
    fake.reply('domstate_nosuch', { err: "error: failed to get domain 'nosuch'\n", rc: 1 });
    expect(await readVirshState('web1', fake.virsh)).toBe('shut off');
    expect(await readVirshState('nosuch', fake.virsh)).toBeUndefined();
  });
});
