import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findGuestKernel, resolveModules } from './boot-files.js';

const hasDebianKernel =
  fs.existsSync('/boot') && fs.readdirSync('/boot').some((f) => /^vmlinuz-.*-amd64$/.test(f));

describe.skipIf(!hasDebianKernel)('the VM boot files', () => {
  it('finds the Debian kernel in /boot with its modules', () => {
    const kernel = findGuestKernel();
    expect(fs.existsSync(kernel.path)).toBe(true);
    expect(fs.existsSync(`/lib/modules/${kernel.version}/modules.dep`)).toBe(true);
  });

  it('orders modules after everything they depend on, each once', () => {
    const { version } = findGuestKernel();
    const order = resolveModules(version, ['9p', '9pnet_virtio', 'overlay', '9p']);
    const names = order.map((m) => m.split('/').pop());
    expect(names.indexOf('9pnet.ko')).toBeLessThan(names.indexOf('9pnet_virtio.ko'));
    expect(names.indexOf('netfs.ko')).toBeLessThan(names.indexOf('9p.ko'));
    expect(new Set(order).size).toBe(order.length);
  });

  it('skips names that are built into the kernel or unknown', () => {
    expect(resolveModules(findGuestKernel().version, ['no_such_module_here'])).toEqual([]);
  });
});
