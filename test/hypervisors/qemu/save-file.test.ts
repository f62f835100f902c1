import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  extractPart,
  HEADER_BYTES,
  readSaveHeader,
  writeSaveStart,
} from '../../../src/hypervisors/qemu/save-file.js';
import { domainConfig } from './fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the save file', () => {
  const kernel = path.join(dir, 'vmlinuz');
  const initrd = path.join(dir, 'initrd');
  writeFileSync(kernel, 'K'.repeat(3000));
  writeFileSync(initrd, 'I'.repeat(5000));
  const base = {
    cfgPath: '/etc/xen/g.cfg',
    savedAt: '2026-12-05T12:00:00Z',
    qemu: 'qemu-system-x86_64',
    accel: 'tcg' as const,
  };

  it('holds the header, then kernel and initrd, then the state; each part comes back out', () => {
    const file = path.join(dir, 'g.save');
    const header = writeSaveStart(file, { ...base, config: domainConfig({ name: 'g' }) }, kernel, initrd);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(header.kernel).toEqual({ offset: HEADER_BYTES, length: 3000 });
    expect(header.initrd).toEqual({ offset: HEADER_BYTES + 3000, length: 5000 });
    expect(header.stateOffset).toBe(HEADER_BYTES + 8000);
    // No state yet: not a usable save file.
    expect(() => readSaveHeader(file)).toThrow(/holds no guest state/);
    writeFileSync(file, 'STATE', { flag: 'a' });
    expect(readSaveHeader(file)).toEqual(header);
    extractPart(file, header.initrd!, path.join(dir, 'initrd.out'));
    expect(readFileSync(path.join(dir, 'initrd.out'), 'utf8')).toBe('I'.repeat(5000));
    expect(readFileSync(file).subarray(header.stateOffset).toString()).toBe('STATE');
    // Cut short inside the initrd: extracting it says so.
    truncateSync(file, HEADER_BYTES + 4000);
    expect(() => extractPart(file, header.initrd!, path.join(dir, 'initrd.cut'))).toThrow(/cut short/);
  });

  it('never overwrites, and refuses files that are not save files with exit-2 errors', () => {
    const file = path.join(dir, 'taken');
    writeFileSync(file, 'something else\n');
    expect(() =>
      writeSaveStart(file, { ...base, config: domainConfig({ name: 'g' }) }, kernel, undefined),
    ).toThrow(/EEXIST/);
    expect(readFileSync(file, 'utf8')).toBe('something else\n');
    expect(() => readSaveHeader(file)).toThrow(
      expect.objectContaining({ kind: 'usage', code: 'E_SAVE_FILE' }),
    );
    expect(() => readSaveHeader(path.join(dir, 'missing'))).toThrow(
      expect.objectContaining({ kind: 'usage' }),
    );
  });
});
