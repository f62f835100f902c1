import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkGuestRunning } from '../../src/images/running.js';
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
