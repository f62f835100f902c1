import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBED_COMMANDS } from '../../src/model/host-facts.js';
import { detectHostFacts } from '../../src/tools/host-probe.js';

function shell(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }).trim();
}

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
