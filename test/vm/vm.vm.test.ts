/**
 * The VM test bed itself: a command's output and exit status come back, a script sees its
 * environment and a writable root, and a VM that overruns its timeout is killed without leaving
 * a QEMU process or a temp dir behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { runInVm, VmFailedError } from './vm.js';

const isRoot = process.getuid?.() === 0;

function tempDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('xenkit-vm-'));
}

function qemuProcesses(): string[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    })
    .filter((cmd) => cmd.startsWith('qemu-system-x86_64 -name xenkit-vm-'));
}

describe.skipIf(!isRoot)('the VM test bed', () => {
  it('returns the stdout, stderr and exit status of an argv run on the host userspace', async () => {
    const before = tempDirs();
    const result = await runInVm({
      kind: 'linux',
      command: ['sh', '-c', 'node --version; uname -r; ls /dev/vda; echo to-stderr >&2; exit 3'],
      timeoutMs: 180_000,
      scratchDiskMiB: 16,
    });
    console.log(`linux VM: ready after ${result.bootSeconds} s, whole run ${result.durationMs} ms`);
    expect(result.exitCode).toBe(3);
    expect(result.stdout.split('\n')).toEqual([
      process.version,
      expect.stringMatching(/-amd64$/),
      '/dev/vda',
      '',
    ]);
    expect(result.stderr).toBe('to-stderr\n');
    expect(result.console).toMatch(/xenkit-vm: done after/);
    expect(tempDirs()).toEqual(before);
  });

  it('runs a script with its environment, in the given directory, on a writable root that the host never sees', async () => {
    const marker = `/etc/xenkit-vm-marker-${process.pid}`;
    const result = await runInVm({
      kind: 'linux',
      command: {
        script: `set -e\necho "$GREETING" > ${marker}\ncat ${marker}\npwd\nmodprobe dm_mod && test -e /dev/mapper/control && echo dm`,
      },
      env: { GREETING: 'it\'s "quoted" $HOME' },
      cwd: '/usr/share',
      timeoutMs: 180_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`it's "quoted" $HOME\n/usr/share\ndm\n`);
    expect(result.exitCode).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('kills a VM that overruns its timeout and leaves no QEMU process and no temp dir', async () => {
    const before = tempDirs();
    const started = Date.now();
    const run = runInVm({ kind: 'linux', command: ['sleep', '600'], timeoutMs: 15_000 });
    await expect(run).rejects.toBeInstanceOf(VmFailedError);
    await expect(run).rejects.toThrow(/reported no exit status: QEMU was killed/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(qemuProcesses()).toEqual([]);
    expect(tempDirs()).toEqual(before);
  });
});
