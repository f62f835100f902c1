import { describe, expect, it } from 'vitest';
import { checkFsParameters, isUuid } from '../../src/storage/fs-options.js';

const U = '0b1c2d3e-4f50-4162-8374-8596a7b8c9da';

describe('checkFsParameters', () => {
  it('accepts good parameters', () => {
    expect(
      checkFsParameters({ target: '/i', fs: 'ext4', uuid: U, label: 'root', sizeBytes: 1024 ** 3 }).isEmpty,
    ).toBe(true);
  });

  it('reports every problem at once, naming the input', () => {
    const errors = checkFsParameters({
      target: '/i',
      fs: 'xfs',
      uuid: 'not-a-uuid',
      label: 'thirteen-char',
      sizeBytes: 100 * 1024 ** 2,
    });
    expect(errors.errors.map((e) => e.code)).toEqual(['E_UUID', 'E_LABEL', 'E_SIZE']);
    expect(errors.errors[0]?.message).toContain('"not-a-uuid"');
    expect(errors.errors[2]?.message).toContain('too small for xfs');
  });

  it.each([
    [U, true],
    [U.toUpperCase(), true],
    ['0b1c2d3e4f5041628374-8596a7b8c9da', false],
    ['', false],
  ])('isUuid(%j) is %s', (text, ok) => {
    expect(isUuid(text)).toBe(ok);
  });
});
