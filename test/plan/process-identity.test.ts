import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../src/plan/process-identity.js';

describe('isAlive', () => {
  it('sees this process and a running child, and not a child that has exited and been reaped', async () => {
    expect(isAlive(process.pid)).toBe(true);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid as number;
    expect(isAlive(pid)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(isAlive(pid)).toBe(false);
  });

  // Unprivileged, signalling init fails with EPERM: the process exists all the same.
  it.runIf(process.getuid?.() !== 0)("counts another user's process (EPERM) as alive", () => {
    expect(isAlive(1)).toBe(true);
  });
});
