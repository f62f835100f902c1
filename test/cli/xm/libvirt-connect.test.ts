import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectDriver, type DriverKind } from '../../../src/hypervisors/detect.js';
import { FakeDriver, runXm } from './fake-driver.js';

let root: string;
let made: { kind: DriverKind; uri: string | undefined }[];
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-connect-'));
  made = [];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs xm with the real driver choice; records which driver was built on which URI. */
async function run(args: string[], env: Record<string, string> = {}) {
  const driver = new FakeDriver();
  return runXm(driver, root, args, {
    detectDriver,
    env: { XENKIT_ROOT: root, ...env },
    createDriver: (kind, _paths, _sink, uri) => {
      made.push({ kind, uri });
      return driver;
    },
  });
}

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

describe('the libvirt driver and its connection', () => {
  it('info shows the driver, the connection and why: qemu:///system by default', async () => {
    const result = await run(['info', '--driver', 'libvirt']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('driver:     libvirt\nreason:     chosen by --driver=libvirt\n');
    expect(result.stdout).toContain(
      "connect:    qemu:///system (libvirt's default for the host's own guests)",
    );
  });

  it('takes the URI from --connect (which means libvirt), XENKIT_CONNECT, then xenkit.conf', async () => {
    expect((await run(['list', '--connect', 'qemu+tcp://127.0.0.1/system'])).code).toBe(0);
    write('etc/xenkit/xenkit.conf', '# xenkit\ndriver = libvirt\nconnect = qemu:///session\n');
    expect((await run(['list'], { XENKIT_CONNECT: 'qemu+ssh://node2/system' })).code).toBe(0);
    const info = await run(['info', '--json']);
    expect(JSON.parse(info.stdout)).toMatchObject({
      driver: 'libvirt',
      reason: `chosen by ${path.join(root, 'etc/xenkit/xenkit.conf')}:2: driver=libvirt`,
      connect: {
        uri: 'qemu:///session',
        reason: `connect in ${path.join(root, 'etc/xenkit/xenkit.conf')}:3`,
      },
    });
    expect(made).toEqual([
      { kind: 'libvirt', uri: 'qemu+tcp://127.0.0.1/system' },
      { kind: 'libvirt', uri: 'qemu+ssh://node2/system' },
      { kind: 'libvirt', uri: 'qemu:///session' },
    ]);
  });

  it('takes a named host from the hosts file with --host', async () => {
    write('etc/xenkit/hosts', 'node2 qemu+ssh://root@node2/system\n');
    const result = await run(['info', '--host', 'node2', '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({
      driver: 'libvirt',
      reason: 'chosen by --host',
      connect: { uri: 'qemu+ssh://root@node2/system', host: 'node2' },
    });
  });

  it.each([
    [['list', '--host', 'nosuch'], 'no host "nosuch" in'],
    [['list', '--connect', 'not-a-uri'], '"not-a-uri" is not a libvirt URI'],
    [['list', '--host', 'a', '--connect', 'qemu:///system'], 'give --host or --connect, not both'],
  ])('refuses %j with exit 2 and one line naming it', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toContain(message);
    expect(made).toEqual([]);
  });

  it('refuses an unknown xenkit.conf key with its line (exit 2)', async () => {
    write('etc/xenkit/xenkit.conf', 'drvier = libvirt\n');
    const result = await run(['list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('xenkit.conf:1: "drvier" is not a xenkit.conf setting');
  });
});
