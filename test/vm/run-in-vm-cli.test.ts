import { describe, expect, it } from 'vitest';
import { parseFacts } from './lvm-scenarios.js';
import { parseRunInVmArgs } from './run-in-vm-cli.js';

describe('scripts/vm/run-in-vm.sh', () => {
  it('reads its options up to the command', () => {
    const { options, showConsole } = parseRunInVmArgs([
      '--xen',
      '--timeout',
      '90',
      '--memory',
      '1536',
      '--scratch',
      '512',
      '--disk',
      '/x.qcow2:qcow2',
      '--console',
      '--',
      'xl',
      '--help',
    ]);
    expect(options).toMatchObject({
      kind: 'xen',
      timeoutMs: 90_000,
      memoryMiB: 1536,
      scratchDiskMiB: 512,
      disks: [{ path: '/x.qcow2', format: 'qcow2' }],
      command: ['xl', '--help'],
    });
    expect(showConsole).toBe(true);
  });

  it.each([[['--bogus']], [['--timeout']]])('rejects %j', (args) => {
    expect(() => parseRunInVmArgs(args)).toThrow();
  });
});

describe('the scenario facts', () => {
  it('reads @@ key=value lines and ignores everything else', () => {
    expect([...parseFacts('noise\n@@ a.b=1\n@@ c=x=y\n  @@ d=no\n@@ e=\n')]).toEqual([
      ['a.b', '1'],
      ['c', 'x=y'],
      ['e', ''],
    ]);
  });
});
