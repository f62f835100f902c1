import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectDriver, parseDriverKind, probeXlInfo } from '../../src/hypervisors/detect.js';
import { makePaths } from '../../src/paths.js';
import { makeFakeXl } from './xl/fake-xl.js';

let hostRoot: string;
const paths = makePaths('/');

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(hostRoot, file)), { recursive: true });
  fs.writeFileSync(path.join(hostRoot, file), text);
}

const xlWorks = async () => ({ ok: true, message: 'xl info answers (Xen 4.17.3-pre)' });
const xlFails = async () => ({ ok: false, message: 'xl finds no Xen hypervisor' });

beforeEach(() => {
  hostRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detect-'));
});
afterEach(() => fs.rmSync(hostRoot, { recursive: true, force: true }));

describe('detectDriver', () => {
  it('picks xl on a dom0 (/proc/xen/capabilities has control_d)', async () => {
    write('proc/xen/capabilities', 'control_d\n');
    const choice = await detectDriver({ paths, hostRoot, probeXl: xlFails });
    expect(choice.driver).toBe('xl');
    expect(choice.reason).toContain('has control_d: this host is a Xen dom0');
  });

  it('picks xl when /sys/hypervisor/type is xen and xl answers', async () => {
    write('sys/hypervisor/type', 'xen\n');
    expect(await detectDriver({ paths, hostRoot, probeXl: xlWorks })).toEqual({
      driver: 'xl',
      reason: `${path.join(hostRoot, 'sys/hypervisor/type')} is xen and xl info answers (Xen 4.17.3-pre)`,
    });
  });

  it('picks qemu in a Xen guest, where xl does not work', async () => {
    write('sys/hypervisor/type', 'xen\n');
    write('proc/xen/capabilities', '');
    const choice = await detectDriver({ paths, hostRoot, probeXl: xlFails });
    expect(choice.driver).toBe('qemu');
    expect(choice.reason).toContain('not a dom0 (xl finds no Xen hypervisor)');
  });

  it('picks qemu in a domU that only has /proc/xen', async () => {
    write('proc/xen/capabilities', '\n');
    const choice = await detectDriver({ paths, hostRoot, probeXl: xlWorks });
    expect(choice).toMatchObject({ driver: 'qemu', reason: expect.stringContaining('lacks control_d') });
  });

  it('picks qemu on a host without Xen, saying what it looked at', async () => {
    const choice = await detectDriver({ paths, hostRoot, probeXl: xlWorks });
    expect(choice.driver).toBe('qemu');
    expect(choice.reason).toContain('no Xen hypervisor');
    expect(choice.reason).toContain(path.join(hostRoot, 'proc/xen/capabilities'));
  });

  it('names another hypervisor when sysfs reports one', async () => {
    write('sys/hypervisor/type', 'kvm\n');
    expect((await detectDriver({ paths, hostRoot })).reason).toBe('the host runs under kvm, not Xen');
  });

  it.each([
    ['xl', '--driver', 'chosen by --driver=xl'],
    ['QEMU', 'XENKIT_DRIVER', 'chosen by XENKIT_DRIVER=qemu'],
    ['libvirt', '/etc/xenkit/xenkit.conf:1: driver', 'chosen by /etc/xenkit/xenkit.conf:1: driver=libvirt'],
  ])('lets an override %s (%s) win over detection', async (override, overrideSource, reason) => {
    write('proc/xen/capabilities', 'control_d\n');
    const choice = await detectDriver({ paths, hostRoot, override, overrideSource });
    expect(choice.reason).toBe(reason);
  });

  it('rejects an unknown driver name as a usage error', () => {
    expect(() => parseDriverKind('vbox', 'XENKIT_DRIVER')).toThrow(
      expect.objectContaining({ kind: 'usage', message: 'XENKIT_DRIVER "vbox" is not a driver' }),
    );
  });
});

describe('probeXlInfo', () => {
  it('treats the "no hypervisor" answer of xl as not a dom0', async () => {
    const fake = makeFakeXl();
    try {
      fake.reply('info', { err: "ERROR:  Can't find hypervisor information in sysfs!\n", rc: 1 });
      expect(await probeXlInfo(fake.xl)).toEqual({ ok: false, message: 'xl finds no Xen hypervisor' });
      fake.reply('info', { out: 'xen_version            : 4.17.3-pre\n' });
      expect(await probeXlInfo(fake.xl)).toEqual({ ok: true, message: 'xl info answers (Xen 4.17.3-pre)' });
    } finally {
      fake.cleanup();
    }
  });

  it('reports a missing xl', async () => {
    const probe = await probeXlInfo({ bin: '/nonexistent/xl' });
    expect(probe.ok).toBe(false);
  });
});
