import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  debianArchOf,
  detectHostFacts,
  parseOsRelease,
  PROBED_COMMANDS,
} from '../../src/model/host-facts.js';

function shell(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }).trim();
}

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

describe('detectHostFacts on this machine', () => {
  it('agrees with dpkg, the shell and /etc/os-release', async () => {
    const facts = await detectHostFacts();
    if (existsSync('/usr/bin/dpkg')) expect(facts.arch).toBe(shell('dpkg --print-architecture'));
    if (existsSync('/etc/os-release')) {
      expect(facts.codename ?? '').toBe(shell('. /etc/os-release; echo "$VERSION_CODENAME"'));
      expect(facts.osId).toBe(shell('. /etc/os-release; echo "$ID"'));
    }
    for (const name of PROBED_COMMANDS) {
      const onPath = shell(`command -v ${name} >/dev/null && echo yes || echo no`) === 'yes';
      expect(facts.commands[name], name).toBe(onPath);
    }
    expect(facts.hasKvm).toBe(existsSync('/dev/kvm'));
  });
});
