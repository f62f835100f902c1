/**
 * The host key pool against the real ssh-keygen: fill, take (once only, with the guest's comment),
 * damaged and half-made keys, the background refill through the built CLI, clear.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clearPool,
  DEFAULT_POOL_SIZE,
  fillPool,
  POOL_ENV,
  hostKeyPoolDir,
  poolStatus,
  refillDrawnPools,
  takePooledRsaKey,
} from '../../src/customize/host-key-pool.js';
import { generateHostKeys } from '../../src/customize/identity.js';
import { makePaths } from '../../src/paths.js';
import { runBin } from '../helpers/cli.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-keypool-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let n = 0;
function freshPool(): { root: string; dir: string } {
  const root = path.join(scratch, `root${n++}`);
  return { root, dir: hostKeyPoolDir(makePaths(root).cacheDir) };
}

const poolKeys = (dir: string): string[] =>
  fs.readdirSync(dir).filter((name) => /^rsa-[0-9a-f]{16}\.key$/.test(name));
const fingerprint = (file: string): string =>
  execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).trim();

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `action` with the background refills on (the test run has XENKIT_HOST_KEY_POOL=off). */
async function withPoolOn<T>(action: () => Promise<T>): Promise<T> {
  const before = process.env[POOL_ENV];
  delete process.env[POOL_ENV];
  try {
    return await action();
  } finally {
    if (before !== undefined) process.env[POOL_ENV] = before;
  }
}

describe('host key pool (real ssh-keygen)', () => {
  it('fills the pool with private keys only root can read, and records its size', async () => {
    const { dir } = freshPool();
    const result = await fillPool(dir, { size: 2 });
    expect(result).toMatchObject({ made: 2, keys: 2, size: 2, skipped: false });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of poolKeys(dir)) {
      expect(fs.statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
      expect(fingerprint(path.join(dir, name))).toMatch(/^3072 SHA256:\S+ xenkit-pool \(RSA\)$/);
    }
    expect(poolStatus(dir)).toMatchObject({ keys: 2, size: 2, filling: false });
    // A second fill has nothing to do.
    expect(await fillPool(dir, {})).toMatchObject({ made: 0, keys: 2, size: 2 });
  });

  it('gives each key out once, with the guest comment, and a public half that matches', async () => {
    const { dir } = freshPool();
    await fillPool(dir, { size: 1 });
    const [only] = poolKeys(dir);
    const before = fingerprint(path.join(dir, only!)).split(' ')[1];
    const out = path.join(scratch, `take-${n}`);
    fs.mkdirSync(out);
    const files = [path.join(out, 'a'), path.join(out, 'b'), path.join(out, 'c')];
    const got = await Promise.all(files.map((f) => takePooledRsaKey(dir, f, 'root@web1')));
    expect(got.filter(Boolean)).toHaveLength(1);
    const file = files[got.indexOf(true)]!;
    expect(fingerprint(file)).toBe(`3072 ${before} root@web1 (RSA)`);
    expect(fingerprint(`${file}.pub`)).toBe(`3072 ${before} root@web1 (RSA)`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(poolKeys(dir)).toEqual([]);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.taken-'))).toEqual([]);
    expect(await takePooledRsaKey(dir, path.join(out, 'd'), 'root@web1')).toBe(false);
  });

  it('throws a damaged key away and takes the next one', async () => {
    const { dir } = freshPool();
    await fillPool(dir, { size: 1 });
    fs.writeFileSync(path.join(dir, 'rsa-0000000000000000.key'), 'not a key\n', { mode: 0o600 });
    const warnings: string[] = [];
    const file = path.join(scratch, `damaged-${n}`);
    const got = await takePooledRsaKey(dir, file, 'root@web2', {
      sink: (e) => {
        if (e.type === 'warn') warnings.push(e.message);
      },
    });
    expect(got).toBe(true);
    expect(fingerprint(file)).toMatch(/^3072 SHA256:\S+ root@web2 \(RSA\)$/);
    expect(warnings.join('\n')).toContain('rsa-0000000000000000.key');
    expect(poolKeys(dir)).toEqual([]);
  });

  it('removes what a dead filler left and leaves a live filler alone', async () => {
    const { dir } = freshPool();
    fs.mkdirSync(dir, { recursive: true });
    // pid 2^22+1 is above pid_max's default ceiling: no such process.
    const dead = path.join(dir, `.new-${2 ** 22 + 1}-abcdef`);
    fs.mkdirSync(dead);
    fs.writeFileSync(path.join(dead, 'key'), 'half');
    fs.writeFileSync(path.join(dir, '.lock'), `${process.ppid}\n`); // a live holder
    expect(await fillPool(dir, { background: true })).toMatchObject({ skipped: true, made: 0 });
    expect(fs.existsSync(dead)).toBe(true);
    fs.rmSync(path.join(dir, '.lock'));
    await fillPool(dir, { size: 1 });
    expect(fs.existsSync(dead)).toBe(false);
    expect(poolKeys(dir)).toHaveLength(1);
  });

  it('refills a pool nobody filled up to the default size, but not one that was cleared', async () => {
    const { root, dir } = freshPool();
    expect(await fillPool(dir, { background: true })).toMatchObject({
      made: DEFAULT_POOL_SIZE,
      size: DEFAULT_POOL_SIZE,
    });
    expect(await clearPool(dir)).toEqual({ removed: DEFAULT_POOL_SIZE });
    expect(poolStatus(dir)).toMatchObject({ keys: 0, size: 0 });
    expect(await fillPool(dir, { background: true })).toMatchObject({ made: 0, size: 0 });
    const status = await runBin('xenkit', ['cache', 'host-keys', '--root', root]);
    expect(status.stdout).toContain('off, cleared');
  });

  it('starts one niced refill after a guest looked in an empty pool nobody filled, which fills it and exits', async () => {
    const { root, dir } = freshPool();
    const set = await withPoolOn(() => generateHostKeys('root@web6', { pool: dir }));
    set.dispose();
    expect(fs.existsSync(dir) ? poolKeys(dir) : []).toEqual([]);
    expect(refillDrawnPools(root)).toEqual([]); // this process has the refills off (vitest env)
    await withPoolOn(() => generateHostKeys('root@web7', { pool: dir })).then((s) => s.dispose());
    const [pid] = await withPoolOn(async () => refillDrawnPools(root));
    expect(pid).toBeGreaterThan(0);
    // Once `nice` has exec'd the filler: the xenkit command, at niceness 19 (field 19 of stat).
    await waitFor(() => !fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('nice\0'), 10_000);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    expect(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]).toBe('19');
    expect(await withPoolOn(async () => refillDrawnPools(root))).toEqual([]); // drawn pools are forgotten
    await waitFor(() => !fs.existsSync(`/proc/${pid}`), 120_000);
    expect(poolStatus(dir)).toMatchObject({ keys: DEFAULT_POOL_SIZE, filling: false });
  });

  it('refuses a bad --count with exit 2 and writes nothing', async () => {
    const { root } = freshPool();
    for (const count of ['0', '-3', 'four', '1000']) {
      const result = await runBin('xenkit', ['cache', 'host-keys', 'fill', '--count', count, '--root', root]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`--count "${count}"`);
    }
    expect(fs.existsSync(root)).toBe(false);
  });

  it('fills, reports and clears through the CLI', async () => {
    const { root, dir } = freshPool();
    const fill = await runBin('xenkit', ['cache', 'host-keys', 'fill', '--count', '2', '--root', root]);
    expect(fill.code, fill.stderr).toBe(0);
    expect(fill.stdout).toContain('2 keys made, 2 of 2 spare');
    expect(fill.stderr).toContain('made key 2 of 2');
    const status = await runBin('xenkit', ['cache', 'host-keys', '--root', root, '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ ok: true, dir, keys: 2, size: 2, filling: false });
    const clear = await runBin('xenkit', ['cache', 'host-keys', 'clear', '--root', root]);
    expect(clear.stdout).toContain('2 keys removed');
    expect(poolKeys(dir)).toEqual([]);
  });
});
