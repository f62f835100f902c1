import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { acquireLock, withLock } from '../../src/plan/lock-file.js';

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

describe('withLock', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-withlock-'));

  it('takes over a stale lock left by a dead process, and removes it afterwards', async () => {
    const lock = path.join(dir, 'run/lock/xenkit/test.lock');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, `${spawnSync('true').pid}\n`);
    const inside = await withLock(lock, 'the test pool', async () => fs.readFileSync(lock, 'utf8'));
    expect(inside).toBe(`${process.pid}\n`);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('waits for a live holder, then gives up naming what is locked and by whom', async () => {
    const lock = path.join(dir, 'held.lock');
    fs.writeFileSync(lock, `${process.pid}\n`);
    await expect(withLock(lock, 'the test pool', async () => 'never', 300)).rejects.toThrow(
      `the test pool is locked by another xenkit process (pid ${process.pid})`,
    );
    expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
  });
});
