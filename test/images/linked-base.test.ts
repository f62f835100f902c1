import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addBaseMarks, isQcow2File, readBaseMarks, removeBaseMarks } from '../../src/images/linked-base.js';

const CFG = "name = 'web1'\nmemory = '256'\n";

describe('base marks in a cfg', () => {
  it('adds, reads back and removes the marks, leaving the cfg as it was', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^\/[a-z0-9/ ._-]{1,40}$/), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 0o777 }),
        (images, mode) => {
          const marks = images.map((image) => ({ image, mode }));
          const marked = addBaseMarks(CFG, marks);
          expect(readBaseMarks(marked)).toEqual(marks);
          expect(addBaseMarks(marked, marks)).toBe(marked);
          expect(removeBaseMarks(marked).trimEnd()).toBe(CFG.trimEnd());
        },
      ),
    );
  });
});

describe('isQcow2File', () => {
  it.each([
    ['a qcow2 header', Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), true],
    ['zeros (a raw image)', Buffer.alloc(16), false],
    ['an empty file', Buffer.alloc(0), false],
  ])('tells %s', (_name, bytes, expected) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xk-q-')), 'img');
    fs.writeFileSync(file, bytes);
    expect(isQcow2File(file)).toBe(expected);
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
