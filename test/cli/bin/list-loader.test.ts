/**
 * The listing bundle loaded with V8's code cache (src/cli/bin/list-loader.ts): the cached path
 * prints what plain require() prints, and a cache that is missing, stale, from another node,
 * rejected by V8 or not safely owned is never used (and the output stays the same).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../../../src/paths.js';
import { REPO, runBin, runNode } from '../../helpers/cli.js';
import { makeListedGuests, makeRoot } from '../../helpers/fake-guests.js';

// The bundle bin/xen-list-images.js loads (bin/xm.js loads list.cjs through the same loader).
const BUILT = path.join(REPO, 'dist/bundle/list-images.cjs');
let paths: Paths;
let dir: string;
let bundle: string;
let cacheFile: string;

beforeAll(() => {
  paths = makeRoot();
  makeListedGuests(paths);
});
afterAll(() => fs.rmSync(paths.root, { recursive: true, force: true }));

beforeEach(() => {
  // A copy of the built bundle in a directory of its own, so that each test makes its own cache.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-list-loader-'));
  fs.chmodSync(dir, 0o755);
  bundle = path.join(dir, 'list-images.cjs');
  cacheFile = `${bundle}.xen-list-images.cache`;
  fs.copyFileSync(BUILT, bundle);
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

const LOADER = path.join(REPO, 'dist/cli/bin/list-loader.js');

/**
 * Loads the copy in a fresh node (V8's in-memory compilation cache would answer a second compile
 * of the same source in one process, whatever the file cache holds), runs `xen-list-images ARGS`
 * and saves the cache as the bin does; returns the cache state, exit status and output.
 */
async function run(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ cache: string; code: number; out: string }> {
  const script = [
    `import { loadListing } from ${JSON.stringify(LOADER)};`,
    `const listing = loadListing('xen-list-images', ${JSON.stringify(bundle)});`,
    'let out = "";',
    'const sink = { write: (t) => (out += t).length > 0 };',
    'const code = await listing.entry.xenListImages(process.argv.slice(1), { stdout: sink, stderr: sink });',
    'listing.saveCache();',
    'process.stdout.write(JSON.stringify({ cache: listing.cache, code, out }));',
  ].join('\n');
  const result = await runNode(['--input-type=module', '-e', script, '--', ...args, `--root=${paths.root}`], {
    env,
  });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as { cache: string; code: number; out: string };
}

describe('loadListing', () => {
  it('prints with the cache what plain require() prints, text and --json', async () => {
    for (const args of [[], ['--json']]) {
      const plain = await run(args, { XENKIT_CODE_CACHE: '0' });
      expect(plain.cache).toBe('off');
      expect(plain.out).toContain(args.length > 0 ? '"name": "a1"' : 'Name: a1');
      expect(await run(args)).toEqual({ ...plain, cache: args.length > 0 ? 'used' : 'missing' });
      expect(await run(args)).toEqual({ ...plain, cache: 'used' });
    }
  });

  it('writes a missing cache after the run, 0644 and owned by this user, then uses it', async () => {
    expect((await run()).cache).toBe('missing');
    const stat = fs.statSync(cacheFile);
    expect(stat.mode & 0o777).toBe(0o644);
    expect(stat.uid).toBe(process.geteuid?.());
    expect(fs.readFileSync(cacheFile, 'latin1')).toMatch(
      new RegExp(`^xenkit-code-cache 1 ${process.version} v8-\\S+ ${process.arch} size-\\d+ `),
    );
    expect((await run()).cache).toBe('used');
    expect(fs.readdirSync(dir).sort()).toEqual(['list-images.cjs', 'list-images.cjs.xen-list-images.cache']);
  });

  it('ignores the cache of a bundle that changed since, and writes it again', async () => {
    const first = await run();
    fs.appendFileSync(bundle, '\n// rebuilt\n');
    expect(await run()).toEqual({ ...first, cache: 'stale' });
    expect((await run()).cache).toBe('used');
  });

  it.each([
    ['another node version', (h: string) => h.replace(process.version, 'v0.0.1')],
    ['another architecture', (h: string) => h.replace(` ${process.arch} `, ' sparc ')],
    ['another format', (h: string) => h.replace('xenkit-code-cache 1', 'xenkit-code-cache 0')],
  ])('ignores a cache written by %s', async (_what, edit) => {
    const first = await run();
    const content = fs.readFileSync(cacheFile);
    const end = content.indexOf(10) + 1;
    const header = edit(content.subarray(0, end).toString('latin1'));
    fs.writeFileSync(cacheFile, Buffer.concat([Buffer.from(header, 'latin1'), content.subarray(end)]));
    expect(await run()).toEqual({ ...first, cache: 'stale' });
    expect((await run()).cache).toBe('used');
  });

  it('falls back to compiling when V8 rejects the data, and replaces it', async () => {
    const first = await run();
    const content = fs.readFileSync(cacheFile);
    const end = content.indexOf(10) + 1;
    fs.writeFileSync(cacheFile, Buffer.concat([content.subarray(0, end), Buffer.alloc(4096, 0x5a)]));
    expect(await run()).toEqual({ ...first, cache: 'rejected' });
    expect((await run()).cache).toBe('used');
  });

  it.each([
    ['writable by its group', () => fs.chmodSync(cacheFile, 0o664)],
    ['writable by anyone', () => fs.chmodSync(cacheFile, 0o666)],
    ['in a directory others may write', () => fs.chmodSync(dir, 0o777)],
    [
      'a symlink to a cache',
      () => {
        fs.renameSync(cacheFile, path.join(dir, 'elsewhere'));
        fs.symlinkSync(path.join(dir, 'elsewhere'), cacheFile);
      },
    ],
  ])('neither uses nor replaces a cache %s', async (_what, spoil) => {
    const first = await run();
    spoil();
    const before = fs.lstatSync(cacheFile);
    expect(await run()).toEqual({ ...first, cache: 'untrusted' });
    expect(fs.lstatSync(cacheFile).mtimeMs).toBe(before.mtimeMs);
  });

  it.runIf(process.geteuid?.() === 0)('does not trust a cache owned by another user', async () => {
    const first = await run();
    fs.chownSync(cacheFile, 65534, 65534);
    expect(await run()).toEqual({ ...first, cache: 'untrusted' });
    fs.chownSync(cacheFile, 0, 0);
    fs.chownSync(dir, 65534, 65534);
    expect(await run()).toEqual({ ...first, cache: 'untrusted' });
  });
});

describe('bin/xen-list-images.js', () => {
  it('prints the same without the cache, while writing it, and with it', async () => {
    const args = [`--root=${paths.root}`];
    const plain = await runBin('xen-list-images', args, { env: { XENKIT_CODE_CACHE: '0' } });
    expect(plain.code).toBe(0);
    const cache = `${BUILT}.xen-list-images.cache`;
    fs.rmSync(cache, { force: true });
    expect(await runBin('xen-list-images', args)).toEqual(plain);
    expect(fs.existsSync(cache)).toBe(true);
    expect(await runBin('xen-list-images', args)).toEqual(plain);
  });
});
