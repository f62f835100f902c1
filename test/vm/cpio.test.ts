import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpioNewc } from './cpio.js';

describe('the newc cpio writer', () => {
  it('writes an archive that the real cpio lists and extracts with modes, data and links', () => {
    const archive = writeCpioNewc([
      { kind: 'dir', name: 'bin' },
      { kind: 'file', name: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { kind: 'file', name: 'odd', data: Buffer.from('abc') },
      { kind: 'symlink', name: 'link', target: 'bin/tool' },
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-cpio-'));
    try {
      execFileSync('cpio', ['-idm', '--quiet'], { cwd: dir, input: archive });
      expect(fs.readFileSync(path.join(dir, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect(fs.statSync(path.join(dir, 'bin/tool')).mode & 0o777).toBe(0o755);
      expect(fs.readFileSync(path.join(dir, 'odd'), 'utf8')).toBe('abc');
      expect(fs.readlinkSync(path.join(dir, 'link'))).toBe('bin/tool');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pads every header and body to 4 bytes', () => {
    const archive = writeCpioNewc([{ kind: 'file', name: 'a', data: Buffer.from('12345') }]);
    expect(archive.length % 4).toBe(0);
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.includes(Buffer.from('TRAILER!!!'))).toBe(true);
  });
});
