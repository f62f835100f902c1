import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/plan/lock-file.js';

describe('acquireLock', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-lock-'));

  it('refuses a second holder while the first is alive, naming the guest', async () => {
    const file = path.join(dir, 'a.lock');
    const lock = await acquireLock(file, 'guest "a"');
    await expect(acquireLock(file, 'guest "a"')).rejects.toThrow(/guest "a" is locked .*pid \d+/);
    lock.release();
    const again = await acquireLock(file, 'guest "a"');
    again.release();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('takes over a lock left by a dead process', async () => {
    const file = path.join(dir, 'b.lock');
    fs.writeFileSync(file, '999999999\n');
    const lock = await acquireLock(file, 'guest "b"');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});
