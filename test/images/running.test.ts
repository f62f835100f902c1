import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GuestDisk } from '../../src/images/guest-files.js';
import {
  checkGuestRunning,
  checkGuestRunningNow,
  guestIdentity,
  refuseRunningGuest,
} from '../../src/images/running.js';
import { makePaths } from '../../src/paths.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-running-'));
const paths = makePaths(path.join(scratch, 'root'));
const savedPath = process.env.PATH;

/** A host root whose /sys/hypervisor/type says `type` (none when undefined). */
function sysRoot(type: string | undefined): string {
  const dir = fs.mkdtempSync(path.join(scratch, 'sys-'));
  if (type !== undefined) {
    fs.mkdirSync(path.join(dir, 'sys/hypervisor'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sys/hypervisor/type'), `${type}\n`);
  }
  return dir;
}

beforeAll(() => {
  // A fake xl that knows every domain it is asked about, and leaves a mark when asked.
  const bin = path.join(scratch, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, 'xl'),
    `#!/bin/sh\ntouch ${scratch}/xl-ran\nprintf 'Name ID Mem VCPUs State Time(s)\\n%s 3 512 1 -b---- 1.0\\n' "$2"\n`,
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterEach(() => fs.rmSync(path.join(scratch, 'xl-ran'), { force: true }));
afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('checkGuestRunning', () => {
  it('asks xl on a Xen host', async () => {
    const seen = await checkGuestRunning('web1', paths, { sysRoot: sysRoot('xen') });
    expect(seen).toEqual({ running: true, by: 'xl', name: 'web1' });
    expect(fs.existsSync(path.join(scratch, 'xl-ran'))).toBe(true);
  });

  it.each([
    ['no /sys/hypervisor', undefined],
    ['another hypervisor', 'kvm'],
  ])('does not run xl where no Xen is (%s)', async (_what, type) => {
    const seen = await checkGuestRunning('web1', paths, { sysRoot: sysRoot(type) });
    expect(seen).toEqual({ running: false });
    expect(fs.existsSync(path.join(scratch, 'xl-ran'))).toBe(false);
  });

  it('runs an xl it was given explicitly, Xen or not', async () => {
    const seen = await checkGuestRunning('web1', paths, {
      sysRoot: sysRoot(undefined),
      xl: path.join(scratch, 'bin/xl'),
    });
    expect(seen).toEqual({ running: true, by: 'xl', name: 'web1' });
  });
});

describe('checkGuestRunning under every name and by its images', () => {
  it('asks xl for the name in the cfg too', async () => {
    const bin = fs.mkdtempSync(path.join(scratch, 'xl-'));
    // An xl that knows only the domain prod-web.
    fs.writeFileSync(
      path.join(bin, 'xl'),
      `#!/bin/sh\n[ "$2" = prod-web ] || exit 1\nprintf 'Name ID\\nprod-web 4\\n'\n`,
      { mode: 0o755 },
    );
    const seen = await checkGuestRunning({ name: 'web1', aliases: ['prod-web'] }, paths, {
      xl: path.join(bin, 'xl'),
    });
    expect(seen).toEqual({ running: true, by: 'xl', name: 'prod-web' });
  });

  it('refuses a name that is not one path component before looking it up', async () => {
    await expect(checkGuestRunning({ name: 'web1', aliases: ['../../etc'] }, paths)).rejects.toMatchObject({
      code: 'E_GUEST_NAME',
    });
  });

  it('names the process holding an image, and lets a reader pass where reading is allowed', async () => {
    const image = path.join(scratch, 'held.img');
    fs.writeFileSync(image, 'x');
    const reader = spawn('sh', ['-c', `exec 3<'${image}'; exec sleep 60`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !fs.readdirSync(`/proc/${reader.pid}/fd`).includes('3'); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const guest = { name: 'web1', images: [image] };
      await expect(refuseRunningGuest(guest, paths, 'delete', { xl: false })).rejects.toMatchObject({
        code: 'E_RUNNING',
        message: expect.stringContaining(`its image ${image} is in use: `) as string,
      });
      expect(await checkGuestRunning({ ...guest, isReadingAllowed: true }, paths, { xl: false })).toEqual({
        running: false,
      });
    } finally {
      reader.kill('SIGKILL');
    }
  });
});

describe('checkGuestRunningNow (the shared scans of a listing)', () => {
  const qemu = { pid: 4242, name: 'web2', argv: ['qemu-system-x86_64'], foundBy: 'proc' as const };

  it.each([
    ['no runtime directory, no QEMU, not Xen', { sysRoot: sysRoot(undefined) }, { running: false }],
    [
      'a domain of the one xl list on a Xen host',
      { sysRoot: sysRoot('xen'), xlDomains: new Set(['web1']) },
      { running: true, by: 'xl', name: 'web1' },
    ],
    ['not in that xl list', { sysRoot: sysRoot('xen'), xlDomains: new Set(['web3']) }, { running: false }],
  ])('answers without waiting: %s', (_what, options, expected) => {
    const now = checkGuestRunningNow(
      { name: 'web1' },
      { qemuProcesses: [qemu], runtimeNames: new Set(['web2']), ...options },
    );
    expect(now).toEqual(expected);
    expect(fs.existsSync(path.join(scratch, 'xl-ran'))).toBe(false);
  });

  it.each([
    ['a runtime directory of that name (its record must be read)', { runtimeNames: new Set(['web1']) }],
    ['a QEMU process of that name', { qemuProcesses: [{ ...qemu, name: 'web1' }] }],
    ['no shared scan of the processes', { qemuProcesses: undefined }],
    ['a Xen host without the one xl list', { sysRoot: sysRoot('xen') }],
  ])('leaves it to checkGuestRunning with %s', (_what, options) => {
    const now = checkGuestRunningNow(
      { name: 'web1' },
      { qemuProcesses: [qemu], runtimeNames: new Set(), sysRoot: sysRoot(undefined), ...options },
    );
    expect(now).toBeUndefined();
  });

  it('refuses a name that is not one path component', () => {
    expect(() => checkGuestRunningNow({ name: '../x' }, { qemuProcesses: [] })).toThrow(/guest name/);
  });
});

describe('guestIdentity', () => {
  it('holds the file name, the cfg name and the writable images, not the read-only ones', () => {
    const disk = (target: string, access: 'rw' | 'ro'): GuestDisk => ({
      path: target,
      exists: true,
      isFile: true,
      config: { target, format: 'raw', vdev: 'xvda', access, isCdrom: false, raw: '' },
    });
    const guest = {
      config: { name: 'prod-web' },
      disks: [disk('/srv/domains/web1/disk.img', 'rw'), disk('/srv/data/shared.img', 'ro')],
    };
    expect(guestIdentity('web1', guest, ['/srv/domains/web1/swap.img'])).toEqual({
      name: 'web1',
      aliases: ['prod-web'],
      images: ['/srv/domains/web1/disk.img', '/srv/domains/web1/swap.img'],
    });
  });
});
