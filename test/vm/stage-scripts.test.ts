import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { quoteShell, renderStage2, STAGE1_INIT } from './stage-scripts.js';

describe('the VM stage scripts', () => {
  it.each(['plain', "it's", 'a b', '$HOME', '"x"', '', 'a\nb', '*'])(
    'quotes %j so bash reads it back unchanged',
    (value) => {
      const out = execFileSync('bash', ['-c', `printf %s ${quoteShell(value)}`], { encoding: 'utf8' });
      expect(out).toBe(value);
    },
  );

  it('starts the Xen daemons only in Xen mode', () => {
    const xen = renderStage2({ kind: 'xen', body: 'true', env: {}, cwd: '/' });
    const linux = renderStage2({ kind: 'linux', body: 'true', env: {}, cwd: '/' });
    expect(xen).toMatch(/xenstored[\s\S]*xen-init-dom0[\s\S]*xenconsoled/);
    expect(linux).not.toMatch(/xenstored/);
  });

  it.each([
    ['stage 2', renderStage2({ kind: 'xen', body: 'echo hi', env: { A: "x'y" }, cwd: '/tmp' })],
    ['stage 1', STAGE1_INIT],
  ])('writes a %s that a shell parses', (_name, script) => {
    expect(() => execFileSync('bash', ['-n'], { input: script })).not.toThrow();
  });
});
