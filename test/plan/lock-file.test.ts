import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { acquireLock, withLock } from '../../src/plan/lock-file.js';

/** A pid that no process has now (a child that already exited). */
function deadPid(): number {
  return spawnSync('true').pid;
}

describe('acquireLock', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-lock-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

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

  it('takes over a stale lock whose takeover was left half done by a process that died', async () => {
    const file = path.join(dir, 'half.lock');
    fs.writeFileSync(file, `${deadPid()}\n`);
    fs.writeFileSync(`${file}.takeover`, `${deadPid()}\n`);
    const lock = await acquireLock(file, 'guest "half"');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(String(process.pid));
    expect(fs.existsSync(`${file}.takeover`)).toBe(false);
    lock.release();
  });

  it('waits while another live process takes a stale lock over, then reports it locked', async () => {
    const file = path.join(dir, 'busy.lock');
    fs.writeFileSync(file, `${deadPid()}\n`);
    fs.writeFileSync(`${file}.takeover`, `${process.pid}\n`);
    const pending = acquireLock(file, 'guest "busy"', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The taker finishes: the stale lock is gone and the taker holds it.
    fs.writeFileSync(file, `${process.ppid}\n`);
    fs.rmSync(`${file}.takeover`);
    await expect(pending).rejects.toThrow(
      `guest "busy" is locked by another xenkit process (pid ${process.ppid})`,
    );
    expect(fs.readFileSync(file, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('lets exactly one of many processes hold a lock at a time while each takes over a stale one', async () => {
    const race = fs.mkdtempSync(path.join(dir, 'race-'));
    const file = path.join(race, 'lock/contested.lock');
    const start = path.join(race, 'start');
    const log = path.join(race, 'log');
    const script = path.join(race, 'contender.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./lock-contender.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
    });
    fs.mkdirSync(path.dirname(file));
    const dead = deadPid();
    fs.writeFileSync(file, `${dead}\n`);
    const contenders = 10;
    const rounds = 8;
    const exits = Array.from({ length: contenders }, () => {
      const child = spawn(process.execPath, [script, file, start, log, String(dead), String(rounds)], {
        stdio: 'inherit',
      });
      return new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    fs.writeFileSync(start, '');
    expect(await Promise.all(exits)).toEqual(Array(contenders).fill(0));
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.startsWith('overlap'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('held'))).toHaveLength(contenders * rounds);
    // Nothing left but the last holder's (stale) lock: no temporaries, no takeover mark.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['contested.lock']);
  }, 60_000);

  it.each([
    ['made by another user', (d: string) => fs.chownSync(d, 65534, 65534)],
    ['writable by every user', (d: string) => fs.chmodSync(d, 0o777)],
    ['writable by its group', (d: string) => fs.chmodSync(d, 0o775)],
  ])('refuses a lock directory %s, naming it', async (_what, spoil) => {
    if (_what === 'made by another user' && process.geteuid?.() !== 0) return;
    const lockDir = fs.mkdtempSync(path.join(dir, 'spoilt-'));
    spoil(lockDir);
    const file = path.join(lockDir, 'guest-a.lock');
    await expect(acquireLock(file, 'guest "a"')).rejects.toMatchObject({
      code: 'E_UNSAFE_DIR',
      kind: 'runtime',
      message: expect.stringContaining(lockDir),
    });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a lock directory that is a symbolic link', async () => {
    const real = fs.mkdtempSync(path.join(dir, 'real-'));
    const link = path.join(dir, 'linked-locks');
    fs.symlinkSync(real, link);
    await expect(acquireLock(path.join(link, 'x.lock'), 'x')).rejects.toThrow(
      /linked-locks is a symbolic link/,
    );
    expect(fs.readdirSync(real)).toEqual([]);
  });

  it('makes a missing lock directory writable by its owner only', async () => {
    const file = path.join(dir, 'fresh/run/xenkit/lock/c.lock');
    const lock = await acquireLock(file, 'c');
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o755);
    lock.release();
  });
});

describe('withLock', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-withlock-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes over a stale lock left by a dead process, and removes it afterwards', async () => {
    const lock = path.join(dir, 'run/lock/xenkit/test.lock');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, `${deadPid()}\n`);
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
