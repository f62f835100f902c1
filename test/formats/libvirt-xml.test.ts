import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  escapeXml,
  libvirtLifecycle,
  renderDomainXml,
  type LibvirtXmlOptions,
} from '../../src/formats/libvirt-xml.js';
import type { DomainConfig } from '../../src/model/domain-config.js';
import { hasCommand, runCommand } from '../../src/tools/exec.js';
import { disk, domainConfig, vif } from '../hypervisors/qemu/fixtures.js';

const goldenFile = (name: string): string =>
  fileURLToPath(new URL(`../golden/libvirt-xml/${name}.xml`, import.meta.url));

/** UPDATE_GOLDEN=1 rewrites the files from the current output. */
function golden(name: string, xml: string): string {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenFile(name), xml);
  return readFileSync(goldenFile(name), 'utf8');
}

const extracted = {
  kernel: '/var/lib/xenkit/libvirt/web1/boot/vmlinuz-6.1.0-56-amd64',
  initrd: '/var/lib/xenkit/libvirt/web1/boot/initrd.img-6.1.0-56-amd64',
  cmdline: 'root=/dev/vda ro elevator=noop console=ttyS0',
};

const cases: [string, DomainConfig, LibvirtXmlOptions][] = [
  [
    'pv-host-kernel',
    domainConfig({
      bootloader: undefined,
      kernel: '/boot/vmlinuz-6.1.0-56-amd64',
      memory: 256,
      maxmem: 1024,
      vcpus: 1,
      maxvcpus: 4,
      onReboot: 'destroy',
      onCrash: 'coredump-destroy',
    }),
    { domainType: 'qemu', kernel: '/boot/vmlinuz-6.1.0-56-amd64', cmdline: 'root=/dev/vda ro console=ttyS0' },
  ],
  [
    'pygrub-extracted',
    domainConfig({ tcgCacheMiB: 48 }),
    { domainType: 'qemu', ...extracted, cfgPath: '/etc/xen/web1.cfg' },
  ],
  [
    'kvm-qcow2-block-cdrom',
    domainConfig({
      disks: [
        disk('/srv/web1/root.qcow2', 'xvda', { format: 'qcow2' }),
        disk('/dev/vg0/web1-data', 'xvdb', { access: 'ro' }),
        disk('/srv/iso/d&i.iso', 'hdc', { isCdrom: true, access: 'ro' }),
      ],
      raw: { uuid: '0f9e7c2a-5b1d-4c3e-9a8b-7d6e5f4a3b2c' },
    }),
    { domainType: 'kvm', ...extracted },
  ],
  [
    'bridge-and-user-nics',
    domainConfig({
      vifs: [
        vif('00:16:3E:AA:BB:01', 'xenbr0', { vifname: 'web1.0' }),
        vif('00:16:3e:aa:bb:02', undefined, { model: 'e1000' }),
      ],
    }),
    { domainType: 'qemu', ...extracted },
  ],
  [
    'hvm-disk-boot',
    domainConfig({ type: 'hvm', bootloader: undefined, onPoweroff: 'preserve' }),
    { domainType: 'qemu' },
  ],
];

describe('renderDomainXml', () => {
  it.each(cases)('matches the golden domain XML for %s', (name, dc, opts) => {
    const xml = renderDomainXml(dc, opts);
    expect(xml).toBe(golden(name, xml));
  });

  it("keeps the cfg's MACs, lower-cased, in cfg order, and the disks as vda, vdb in cfg order", () => {
    const xml = renderDomainXml(
      domainConfig({ vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3E:AA:BB:02', 'br1')] }),
      { domainType: 'qemu', ...extracted },
    );
    expect([...xml.matchAll(/<mac address='([^']+)'/g)].map((m) => m[1])).toEqual([
      '00:16:3e:aa:bb:01',
      '00:16:3e:aa:bb:02',
    ]);
    expect([...xml.matchAll(/<target dev='(vd[a-z])' bus='virtio'/g)].map((m) => m[1])).toEqual([
      'vda',
      'vdb',
    ]);
  });

  it("sizes TCG's translation cache as the QEMU driver does, except where a vCPU can be hot-added", () => {
    const tbCache = (dc: DomainConfig, domainType: 'qemu' | 'kvm' = 'qemu') =>
      /<tcg>\s*<tb-cache unit='MiB'>(\d+)<\/tb-cache>\s*<\/tcg>/.exec(
        renderDomainXml(dc, { domainType, ...extracted }),
      )?.[1];
    expect(tbCache(domainConfig())).toBe('96');
    expect(tbCache(domainConfig({ tcgCacheMiB: 48 }))).toBe('48');
    expect(tbCache(domainConfig({ tcgCacheMiB: 48 }), 'kvm')).toBeUndefined();
    expect(tbCache(domainConfig({ vcpus: 1, maxvcpus: 2 }))).toBeUndefined();
  });

  it('escapes what XML would read as markup', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const xml = renderDomainXml(domainConfig(), { domainType: 'qemu', ...extracted, cmdline: 'x=<1> && y' });
    expect(xml).toContain('<cmdline>x=&lt;1&gt; &amp;&amp; y</cmdline>');
  });

  it.each([
    ['preserve', 'poweroff', 'destroy'],
    ['rename-restart', 'reboot', 'restart'],
    ['soft-reset', 'reboot', 'restart'],
    ['coredump-destroy', 'crash', 'coredump-destroy'],
    ['coredump-destroy', 'poweroff', 'destroy'],
    ['coredump-restart', 'reboot', 'restart'],
  ] as const)('maps xl %s on %s to libvirt %s', (action, event, expected) => {
    expect(libvirtLifecycle(action, event)).toBe(expected);
  });
});

const scratch = mkdtempSync(path.join(os.tmpdir(), 'xenkit-libvirt-xml-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(!(await hasCommand('virt-xml-validate')) || !(await hasCommand('xmllint')))(
  "libvirt's own schema (virt-xml-validate)",
  () => {
    it.each(cases)('accepts the domain XML of %s', async (name, dc, opts) => {
      const file = path.join(scratch, `${name}.xml`);
      writeFileSync(file, renderDomainXml(dc, opts));
      const result = await runCommand(['virt-xml-validate', file, 'domain'], { allowFailure: true });
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
    });
  },
);
