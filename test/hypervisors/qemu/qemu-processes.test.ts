import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFromArgv } from '../../../src/hypervisors/qemu/qemu-processes.js';

/** A QEMU argv as the driver writes it (the golden files of argv.test.ts). */
function goldenArgv(name: string): string[] {
  const file = fileURLToPath(new URL(`../../golden/qemu-argv/${name}.argv`, import.meta.url));
  return readFileSync(file, 'utf8').trimEnd().split('\n');
}

describe('configFromArgv (a guest whose record is lost)', () => {
  it('reads memory, vCPUs and the kernel back from the command line the driver wrote', () => {
    expect(configFromArgv('web1', goldenArgv('pv-host-kernel'))).toEqual({
      name: 'web1',
      type: 'pv',
      memory: 1024,
      maxmem: 1024,
      vcpus: 1,
      maxvcpus: 4,
      kernel: '/boot/vmlinuz-6.1.0-56-amd64',
      ramdisk: '/boot/initrd.img-6.1.0-56-amd64',
      root: undefined,
      extra: undefined,
      cmdline: 'root=/dev/vda ro elevator=noop quiet cryptomgr.notests mitigations=off console=ttyS0',
      bootloader: undefined,
      disks: [],
      vifs: [],
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'restart',
      raw: {},
    });
  });

  it.each([
    ['no -m or -smp', ['qemu-system-x86_64'], { type: 'hvm', memory: 0, vcpus: 1, maxvcpus: 1 }],
    ['a maxcpus below the vCPUs', ['qemu-system-x86_64', '-smp', '2,maxcpus=1'], { vcpus: 2, maxvcpus: 2 }],
  ])('falls back to what a guest has at least, given %s', (_what, argv, expected) => {
    expect(configFromArgv('web1', argv)).toMatchObject(expected);
  });
});
