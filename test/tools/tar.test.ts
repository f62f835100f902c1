import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTarCreateArgv,
  buildTarExtractArgv,
  compressionForName,
  detectCompression,
  detectCompressionFromBytes,
} from '../../src/tools/tar.js';
import { runCommand } from '../../src/tools/exec.js';

describe('detectCompressionFromBytes', () => {
  it.each([
    [[0x1f, 0x8b, 0x08, 0x00], 'gzip'],
    [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00], 'xz'],
    [[0x28, 0xb5, 0x2f, 0xfd, 0x04], 'zstd'],
    [[0x42, 0x5a, 0x68, 0x39], 'bzip2'],
    [[0x2e, 0x2f, 0x00, 0x00], 'none'],
    [[], 'none'],
  ])('reads %j as %s', (bytes, expected) => {
    expect(detectCompressionFromBytes(Uint8Array.from(bytes))).toBe(expected);
  });
});

describe('compressionForName', () => {
  it.each([
    ['root.tar', 'none'],
    ['root.tar.gz', 'gzip'],
    ['root.tgz', 'gzip'],
    ['root.tar.xz', 'xz'],
    ['root.tar.zst', 'zstd'],
    ['root.tar.bz2', 'bzip2'],
  ])('names %s as %s', (name, expected) => {
    expect(compressionForName(name)).toBe(expected);
  });
});

describe('tar argv', () => {
  it('extracts with numeric owners, permissions, every xattr and ACLs', () => {
    expect(buildTarExtractArgv('/x/root.tar.zst', '/stage', 'none')).toEqual([
      'tar',
      '--extract',
      '--preserve-permissions',
      '--same-owner',
      '--numeric-owner',
      '--xattrs',
      '--xattrs-include=*',
      '--acls',
      '--file=/x/root.tar.zst',
      '--directory=/stage',
    ]);
  });

  it('creates from the tree root with excludes and the chosen compressor', () => {
    expect(buildTarCreateArgv('/tree', '/x/r.tar.zst', 'zstd', ['./proc/*'])).toEqual([
      'tar',
      '--create',
      '--numeric-owner',
      '--xattrs',
      '--xattrs-include=*',
      '--acls',
      '--sparse',
      '--zstd',
      '--exclude=./proc/*',
      '--file=/x/r.tar.zst',
      '--directory=/tree',
      '.',
    ]);
  });
});

describe('detectCompression with real compressors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-tar-'));
    await writeFile(path.join(dir, 'plain'), 'hello\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['gzip', 'xz', 'zstd'] as const)('recognises a file made by %s', async (tool) => {
    await runCommand([tool, '--keep', '--force', path.join(dir, 'plain')]);
    const suffix = { gzip: '.gz', xz: '.xz', zstd: '.zst' }[tool];
    expect(await detectCompression(path.join(dir, `plain${suffix}`))).toBe(tool);
  });

  it('calls an uncompressed file none', async () => {
    expect(await detectCompression(path.join(dir, 'plain'))).toBe('none');
  });
});
