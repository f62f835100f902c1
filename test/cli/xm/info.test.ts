import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectDriver } from '../../../src/hypervisors/detect.js';
import { FakeDriver, runXm } from './fake-driver.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-info-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xenkit info', () => {
  it('prints the driver, the reason, the accelerator and the paths', async () => {
    const run = await runXm(new FakeDriver(), root, ['info'], {
      detectDriver: async () => ({ driver: 'qemu', reason: 'no Xen hypervisor' }),
      probeAccel: async () => ({ kind: 'tcg', reason: '/dev/kvm cannot be opened' }),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('driver:     qemu\nreason:     no Xen hypervisor\n');
    expect(run.stdout).toContain('accel:      tcg (/dev/kvm cannot be opened)');
    expect(run.stdout).toContain(`configs:    ${path.join(root, 'etc/xen')}`);
  });

  it('honours --driver and XENKIT_DRIVER, --driver first, in JSON', async () => {
    const deps = { detectDriver, probeAccel: async () => ({ kind: 'kvm' as const, reason: 'test' }) };
    const byFlag = await runXm(new FakeDriver(), root, ['info', '--driver', 'xl', '--json'], deps);
    expect(JSON.parse(byFlag.stdout)).toMatchObject({
      driver: 'xl',
      reason: 'chosen by --driver=xl',
      accel: null,
    });
    const byEnv = await runXm(new FakeDriver(), root, ['info', '--json'], {
      ...deps,
      env: { XENKIT_ROOT: root, XENKIT_DRIVER: 'qemu' },
    });
    expect(JSON.parse(byEnv.stdout)).toMatchObject({
      driver: 'qemu',
      reason: 'chosen by XENKIT_DRIVER=qemu',
      accel: { kind: 'kvm' },
      paths: { root },
    });
  });

  it('rejects an unknown driver with exit 2', async () => {
    const run = await runXm(new FakeDriver(), root, ['info', '--driver', 'vmware'], { detectDriver });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--driver "vmware" is not a driver');
  });

  it('shows usage for xm without arguments', async () => {
    const run = await runXm(new FakeDriver(), root, []);
    expect(run.code).toBe(0);
    for (const verb of [
      'create',
      'console',
      'list',
      'shutdown',
      'vcpu-set',
      'mem-set',
      'sched-credit',
      'autostart',
    ]) {
      expect(run.stdout).toContain(`  ${verb}`);
    }
  });
});
