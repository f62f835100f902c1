import { describe, expect, it } from 'vitest';
import { debianArchOf, parseOsRelease } from '../../src/model/host-facts.js';

describe('parseOsRelease', () => {
  it('reads quoted, unquoted and escaped values, and skips junk', () => {
    const text =
      'NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\nID=\'debian\'\n# comment\nX="a \\"b\\""\nnot a line\n';
    expect(parseOsRelease(text)).toEqual({
      NAME: 'Debian GNU/Linux',
      VERSION_CODENAME: 'bookworm',
      ID: 'debian',
      X: 'a "b"',
    });
  });

  it('maps node architectures to Debian names', () => {
    expect(debianArchOf('x64')).toBe('amd64');
    expect(debianArchOf('arm64')).toBe('arm64');
    expect(debianArchOf('mips')).toBe('mips');
  });
});
