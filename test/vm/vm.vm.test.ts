/**
 * The VM test bed itself: a command's output and exit status come back, a script sees its
 * environment and a writable root, and a VM that overruns its timeout is killed without leaving
 * a QEMU process or a temp dir behind. The vm project runs its files two at a time, so each check
 * looks at its own run's temp dir and QEMU only: other files' VMs come and go meanwhile.
 */
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { runInVm, VmFailedError } from './vm.js';

const isRoot = process.getuid?.() === 0;

/** The QEMU processes of the VM whose temp dir is `tempDir` (its console file is in there). */
function qemuProcessesOf(tempDir: string): string[] {
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
    .filter((cmd) => cmd.startsWith('qemu-system-x86_64 -name xenkit-vm-') && cmd.includes(`${tempDir}/`));
}

describe.skipIf(!isRoot)('the VM test bed', () => {
  it('returns the stdout, stderr and exit status of an argv run on the host userspace', async () => {
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
    expect(result.tempDir.startsWith(`${os.tmpdir()}/xenkit-vm-`)).toBe(true);
    expect(fs.existsSync(result.tempDir)).toBe(false);
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
    const started = Date.now();
    const error = await runInVm({ kind: 'linux', command: ['sleep', '600'], timeoutMs: 15_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VmFailedError);
    const failed = error as VmFailedError;
    expect(failed.message).toMatch(/reported no exit status: QEMU was killed/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(failed.tempDir.startsWith(`${os.tmpdir()}/xenkit-vm-`)).toBe(true);
    expect(qemuProcessesOf(failed.tempDir)).toEqual([]);
    expect(fs.existsSync(failed.tempDir)).toBe(false);
  });
});
