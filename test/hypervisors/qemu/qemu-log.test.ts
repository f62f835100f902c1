import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XenkitError } from '../../../src/errors.js';
import { qemuLogTail, withQemuLastWords } from '../../../src/hypervisors/qemu/qemu-log.js';

describe("QEMU's log", () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-qemu-log-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the last non-empty lines, none from a missing or empty file', () => {
    const file = path.join(dir, 'qemu.log');
    expect(qemuLogTail(file)).toBeUndefined();
    writeFileSync(file, '');
    expect(qemuLogTail(file)).toBeUndefined();
    writeFileSync(file, 'a\n\nb\nc\nd\ne\nf\ng\n\n');
    expect(qemuLogTail(file)).toBe('c\nd\ne\nf\ng');
    expect(qemuLogTail(file, 2)).toBe('f\ng');
  });

  it('drops the line cut in the middle when the file is longer than it reads', () => {
    const file = path.join(dir, 'qemu.log');
    writeFileSync(file, `${'x'.repeat(100)}\nlast words\n`);
    expect(qemuLogTail(file, 5, 20)).toBe('last words');
  });

  it("adds QEMU's last words to a QMP connection that closed, and to nothing else", () => {
    const file = path.join(dir, 'qemu.log');
    writeFileSync(file, 'double free or corruption (out)\n');
    const closed = new XenkitError('E_QMP_CLOSED', 'guest "g": QMP connection closed during "device_add"');
    const told = withQemuLastWords(closed, file) as XenkitError;
    expect(told.code).toBe('E_QMP_CLOSED');
    expect(told.message).toBe(closed.message);
    expect(told.details).toBe(`QEMU's log (${file}) ends with:\ndouble free or corruption (out)`);
    const other = new XenkitError('E_QMP', 'refused');
    expect(withQemuLastWords(other, file)).toBe(other);
    expect(withQemuLastWords(closed, path.join(dir, 'missing.log'))).toBe(closed);
  });
});
