import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildTemplateVars } from '../../src/formats/xl-cfg-template-vars.js';
import { classifyTemplate, fillNativeTemplate } from '../../src/formats/xl-cfg-template.js';
import { renderGuestCfgFromTemplate } from '../../src/images/guest-cfg-template.js';
import { guestSpecFromXenToolsOptions, readGolden, type XenToolsOptions } from './xl-cfg-fixtures.js';

const specOf = (name: string) =>
  guestSpecFromXenToolsOptions(JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions);

describe('classifyTemplate', () => {
  it.each([
    ["name = '{$hostname}'\nmemory = {$memory}\n", 'native'],
    ["name = '{ $hostname }'\n", 'native'],
    ['no blocks at all\n', 'native'],
    ['{ if ($pygrub) { $OUT .= "bootloader = \'pygrub\'" } }\n', 'perl'],
    ['created on { scalar localtime }\n', 'perl'],
    ['{$a}{$b} and \\{ escaped \\}\n', 'perl'],
    ['{ $hostname . ".cfg" }\n', 'perl'],
    ['stray } brace\n', 'perl'],
  ])('classifies %j as %s', (text, kind) => {
    expect(classifyTemplate(text)).toBe(kind);
  });
});

describe('fillNativeTemplate', () => {
  it('substitutes variables and leaves unset ones empty, as Text::Template does', () => {
    expect(
      fillNativeTemplate("name='{$hostname}' mem={ $memory } x='{$unset}'", { hostname: 'g', memory: '128' }),
    ).toBe("name='g' mem=128 x=''");
  });

  it('refuses a template with code blocks', () => {
    expect(() => fillNativeTemplate('{ 1 + 1 }', {}, 'my.tmpl')).toThrow(
      /template "my.tmpl" has Perl code blocks/,
    );
  });
});

describe('buildTemplateVars', () => {
  it('gives the variables xm.tmpl reads, in xen-tools string forms', () => {
    const { scalars, partitions } = buildTemplateVars(specOf('two-ips'));
    expect(scalars).toMatchObject({
      hostname: 'multi',
      memory: '512',
      vcpus: '2',
      device: 'xvda',
      ips: '10.0.0.5 10.0.0.6 ',
      ip1: '10.0.0.5',
      ip2: '10.0.0.6',
      netmask: '255.255.255.0',
      xen_tools_version: '4.9.2',
      kernel: '/boot/vmlinuz-6.1.0-13-amd64',
    });
    expect(scalars.pygrub).toBeUndefined();
    expect(scalars.dhcp).toBeUndefined();
    expect(partitions.map((p) => `${p.name}:${p.mountpoint}:${p.imagetype}${p.image}`)).toEqual([
      'swap::file:/srv/xen/domains/multi/swap.img',
      'disk:/:file:/srv/xen/domains/multi/disk.img',
    ]);
  });

  it('gives image_vbd and swap_vbd for devices, pygrub without kernel for the guest kernel', () => {
    expect(buildTemplateVars(specOf('image-dev')).scalars).toMatchObject({
      image_vbd: 'phy:/dev/sdb1',
      swap_vbd: 'phy:/dev/sdb2',
      dhcp: '1',
    });
    const grub = buildTemplateVars(specOf('pygrub')).scalars;
    expect([grub.pygrub, grub.kernel]).toEqual(['1', undefined]);
  });
});

describe('renderGuestCfgFromTemplate', () => {
  it('fills a plain-variable template file without Perl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-tmpl-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'simple.tmpl');
    writeFileSync(file, "name = '{$hostname}'\nmemory = {$memory}\nvif = [ 'mac={$mac}' ]\n");
    const spec = specOf('mac-given');
    expect(await renderGuestCfgFromTemplate(spec, file)).toBe(
      "name = 'fixedmac'\nmemory = 256\nvif = [ 'mac=00:16:3E:12:34:56' ]\n",
    );
  });

  it('names an unreadable template', async () => {
    await expect(renderGuestCfgFromTemplate(specOf('mac-given'), '/nonexistent/x.tmpl')).rejects.toThrow(
      /template "\/nonexistent\/x.tmpl" cannot be read/,
    );
  });
});

describe('templates that need Perl where there is none', () => {
  it('says which package to install', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-tmpl-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'code.tmpl');
    writeFileSync(file, "name = '{ uc $hostname }'\n");
    const savedPath = process.env.PATH;
    process.env.PATH = dir; // no perl on this PATH
    try {
      await expect(renderGuestCfgFromTemplate(specOf('noswap'), file)).rejects.toThrow(
        /has Perl code blocks, and perl with Text::Template is not available/,
      );
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
