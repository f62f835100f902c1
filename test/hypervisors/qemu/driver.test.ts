/** The QEMU driver's checks that run before QEMU does (no emulator needed). */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createQemuDriver } from '../../../src/hypervisors/qemu/driver.js';
import { runtimePathsFor } from '../../../src/hypervisors/qemu/runtime-paths.js';
import { startUserNets } from '../../../src/hypervisors/qemu/user-net.js';
import { makePaths, type Paths } from '../../../src/paths.js';
import { domainConfig, vif } from './fixtures.js';

let root: string;
let paths: Paths;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'xenkit-qemu-driver-'));
  paths = makePaths(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('createQemuDriver', () => {
  it('refuses a guest name that climbs out of the runtime directory before removing anything', async () => {
    // stateDir/qemu/../../../victim is ROOT/victim.
    const victim = path.join(root, 'victim');
    mkdirSync(victim);
    writeFileSync(path.join(victim, 'keep'), 'data\n');
    const driver = createQemuDriver({ paths, accel: 'tcg', qemuBinary: '/bin/false' });
    await expect(
      driver.create(domainConfig({ name: '../../../victim' }), { cfgPath: '/etc/xen/evil.cfg' }),
    ).rejects.toMatchObject({ code: 'E_GUEST_NAME', message: expect.stringContaining('/etc/xen/evil.cfg') });
    expect(readFileSync(path.join(victim, 'keep'), 'utf8')).toBe('data\n');
  });

  it('says passt is missing for the user NIC of a guest that also has a bridged one, naming the opt-in', async () => {
    const rt = runtimePathsFor(paths.stateDir, 'web1');
    const config = domainConfig({ vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3E:AA:BB:02', 'xenbr0')] });
    await expect(
      startUserNets(config, rt, [undefined, 'xkvif3.1'], { passt: path.join(root, 'no-such-passt') }),
    ).rejects.toMatchObject({
      code: 'E_TOOL_MISSING',
      message: 'guest "web1": its user network needs passt, which is not installed',
      hint: expect.stringContaining('xenkit_host_loopback = 1'),
    });
  });

  it('says slirp4netns is missing for a user network, names the opt-in, and leaves nothing behind', async () => {
    const kernel = path.join(root, 'vmlinuz');
    writeFileSync(kernel, '');
    const driver = createQemuDriver({
      paths,
      accel: 'tcg',
      qemuBinary: '/bin/false',
      slirp4netnsBinary: path.join(root, 'no-such-slirp4netns'),
    });
    const config = domainConfig({
      bootloader: undefined,
      kernel,
      disks: [],
      raw: {},
    });
    await expect(driver.create(config, { cfgPath: undefined })).rejects.toMatchObject({
      code: 'E_TOOL_MISSING',
      message: 'guest "web1": its user network needs slirp4netns, which is not installed',
      hint: expect.stringContaining('xenkit_host_loopback = 1'),
    });
    expect(existsSync(path.join(paths.stateDir, 'qemu/web1'))).toBe(false);
    expect(existsSync(path.join(paths.lockDir, 'guest-web1.lock'))).toBe(false);
  });

  it.each(['destroy', 'pause', 'shutdown'] as const)('refuses a bad name in %s', async (verb) => {
    mkdirSync(path.join(root, 'victim'));
    const driver = createQemuDriver({ paths, accel: 'tcg' });
    const call =
      verb === 'shutdown'
        ? driver.shutdown('../../../victim', { wait: false })
        : driver[verb]('../../../victim');
    await expect(call).rejects.toMatchObject({ code: 'E_GUEST_NAME' });
    expect(existsSync(path.join(root, 'victim'))).toBe(true);
  });
});
