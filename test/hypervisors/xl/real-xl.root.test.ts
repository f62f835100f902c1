// Against the real `xl` of this machine (Debian's xen-utils), which is not booted under Xen:
// xl must be recognised as "not a dom0" and the QEMU driver chosen. The dom0 half of the xl
// driver runs in a nested-Xen VM, not here.
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/bin/xm.js';
import { detectDriver, probeXlInfo } from '../../../src/hypervisors/detect.js';
import { createXlDriver } from '../../../src/hypervisors/xl/driver.js';
import { makePaths } from '../../../src/paths.js';
import { hasCommand } from '../../../src/tools/exec.js';

const hasXl = await hasCommand('xl');
const isDom0 = (() => {
  try {
    return readFileSync('/proc/xen/capabilities', 'utf8').includes('control_d');
  } catch {
    return false;
  }
})();

describe.skipIf(!hasXl || isDom0)('the real xl on a host without Xen', () => {
  it('is probed as not a dom0', async () => {
    expect(await probeXlInfo()).toEqual({ ok: false, message: 'xl finds no Xen hypervisor' });
  });

  it('makes detection choose qemu', async () => {
    const choice = await detectDriver({ paths: makePaths('/') });
    expect(choice.driver).toBe('qemu');
  });

  it('fails the xl driver with a clear error', async () => {
    await expect(createXlDriver({ paths: makePaths('/') }).list()).rejects.toMatchObject({
      code: 'E_XL_NO_XEN',
      message: expect.stringContaining("Can't find hypervisor information in sysfs!"),
    });
  });

  it('makes `xm list --driver xl` exit 1 with the hint to use qemu', async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const io = { stdout: new PassThrough(), stderr, stdin: new PassThrough(), isTTY: false };
    const code = await main(['list', '--driver', 'xl'], io);
    expect(code).toBe(1);
    expect(err).toMatch(/^xm: error: xl (info|list): this host is not a running Xen dom0/);
    expect(err).toContain('hint: boot the host into Xen, or use the QEMU driver: --driver qemu');
  });
});
