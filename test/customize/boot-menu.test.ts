import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  renderExtlinuxConf,
  renderKernelHook,
  renderMenuLst,
  sortKernelVersions,
} from '../../src/customize/boot-menu.js';

describe('boot menu', () => {
  it('orders kernel versions newest first, numerically', () => {
    expect(sortKernelVersions(['6.1.0-9-amd64', '6.1.0-56-amd64', '5.10.0-30-amd64'])).toEqual([
      '6.1.0-56-amd64',
      '6.1.0-9-amd64',
      '5.10.0-30-amd64',
    ]);
  });

  it('writes a pygrub menu that boots the newest kernel by root UUID', () => {
    const text = renderMenuLst(
      ['6.1.0-9-amd64', '6.1.0-56-amd64'],
      'root=UUID=abc ro console=hvc0',
      (v) => v !== '6.1.0-9-amd64',
    );
    expect(text).toContain('default 0');
    const first = text.indexOf('title Linux 6.1.0-56-amd64');
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(text.indexOf('title Linux 6.1.0-9-amd64'));
    expect(text).toContain('kernel /boot/vmlinuz-6.1.0-56-amd64 root=UUID=abc ro console=hvc0');
    expect(text).toContain('initrd /boot/initrd.img-6.1.0-56-amd64');
    expect(text).not.toContain('initrd /boot/initrd.img-6.1.0-9-amd64');
  });

  it('installs a kernel hook that, run by sh, regenerates the same menu', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-menu-'));
    const hook = renderKernelHook("root=UUID=abc ro it's");
    // Run the hook against a fake /boot by rewriting its absolute paths into the temp dir.
    const script = hook.replaceAll('/boot/', `${dir}/boot/`);
    fs.mkdirSync(path.join(dir, 'boot/grub'), { recursive: true });
    for (const v of ['6.1.0-9-amd64', '6.1.0-56-amd64'])
      fs.writeFileSync(path.join(dir, `boot/vmlinuz-${v}`), '');
    fs.writeFileSync(path.join(dir, 'boot/initrd.img-6.1.0-56-amd64'), '');
    execFileSync('sh', ['-c', script]);
    const written = fs.readFileSync(path.join(dir, 'boot/grub/menu.lst'), 'utf8');
    const expected = renderMenuLst(
      ['6.1.0-9-amd64', '6.1.0-56-amd64'],
      "root=UUID=abc ro it's",
      (v) => v === '6.1.0-56-amd64',
    )
      .replaceAll('/boot/', `${dir}/boot/`)
      .replace(`${dir}/boot/grub`, '/boot/grub');
    expect(written.replace(/^#.*\n/gm, '')).toBe(expected.replace(/^#.*\n/gm, ''));
    fs.rmSync(dir, { recursive: true });
  });

  it('writes an extlinux.conf for HVM that boots the newest kernel on the serial console', () => {
    const text = renderExtlinuxConf(
      ['6.1.0-9-amd64', '6.1.0-56-amd64'],
      'root=UUID=abc ro',
      (v) => v !== '6.1.0-9-amd64',
    );
    expect(text).toMatch(/^SERIAL 0 115200$/m);
    expect(text).toMatch(/^DEFAULT linux0$/m);
    const newest = text.indexOf(
      'LABEL linux0\n  MENU LABEL Linux 6.1.0-56-amd64\n  LINUX /boot/vmlinuz-6.1.0-56-amd64\n  INITRD /boot/initrd.img-6.1.0-56-amd64\n  APPEND root=UUID=abc ro\n',
    );
    expect(newest).toBeGreaterThan(0);
    expect(text).toContain(
      'LABEL linux1\n  MENU LABEL Linux 6.1.0-9-amd64\n  LINUX /boot/vmlinuz-6.1.0-9-amd64\n  APPEND root=UUID=abc ro\n',
    );
  });

  it("an HVM guest's kernel hook, run by sh, regenerates the same extlinux.conf (and the pv hook leaves it alone)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-extlinux-'));
    try {
      const args = "root=UUID=abc ro it's";
      fs.mkdirSync(path.join(dir, 'boot'), { recursive: true });
      for (const v of ['6.1.0-9-amd64', '6.1.0-56-amd64'])
        fs.writeFileSync(path.join(dir, `boot/vmlinuz-${v}`), '');
      fs.writeFileSync(path.join(dir, 'boot/initrd.img-6.1.0-56-amd64'), '');
      execFileSync('sh', ['-c', renderKernelHook(args, false).replaceAll('/boot/', `${dir}/boot/`)]);
      expect(fs.existsSync(path.join(dir, 'boot/extlinux/extlinux.conf'))).toBe(false);
      execFileSync('sh', ['-c', renderKernelHook(args, true).replaceAll('/boot/', `${dir}/boot/`)]);
      const written = fs.readFileSync(path.join(dir, 'boot/extlinux/extlinux.conf'), 'utf8');
      const expected = renderExtlinuxConf(
        ['6.1.0-9-amd64', '6.1.0-56-amd64'],
        args,
        (v) => v === '6.1.0-56-amd64',
      );
      expect(written.replaceAll(`${dir}/boot/`, '/boot/')).toBe(expected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
