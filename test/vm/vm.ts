/**
 * The VM test bed: runs a command inside a QEMU TCG guest that boots the host's Debian kernel
 * (plain Linux, or as dom0 under a nested Xen 4.17) with the host's own userspace shared
 * read-only over 9p under a tmpfs overlay. The command's stdout, stderr and exit status come
 * back through a writable 9p job directory; the serial console is captured whole.
 * QEMU is always gone when runInVm settles: a hard timeout kills it, and it runs under
 * `setpriv --pdeathsig KILL` so it dies with the test process too. Temp dirs are removed.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tcgCpuModel } from '../../src/hypervisors/qemu/argv.js';
import { runCommand } from '../../src/tools/exec.js';
import { readQemuCpuFlags } from '../../src/tools/qemu-system.js';
import { REPO } from '../helpers/cli.js';
import { buildInitramfs, findGuestKernel, findXenHypervisor } from './boot-files.js';
import { quoteShell, renderStage2, VM_JOB_DIR } from './stage-scripts.js';

const ARTIFACTS = path.join(REPO, '.test-results/artifacts');

/** A disk attached to the VM as a virtio block device (vda, vdb, ... in order). */
export interface VmDisk {
  path: string;
  format: 'raw' | 'qcow2';
}

/** What to run and on what machine. */
export interface VmRunOptions {
  kind: 'linux' | 'xen';
  /** An argv, or a bash script (run with `bash -e` semantics left to the script). */
  command: string[] | { script: string };
  timeoutMs: number;
  /** The whole machine's memory (Xen mode: dom0 gets `dom0MemoryMiB` of it). */
  memoryMiB?: number;
  dom0MemoryMiB?: number;
  cpus?: number;
  /**
   * Xen mode: dom0's vCPUs (default `cpus`). One keeps a two-CPU Xen booting as fast as a one-CPU
   * one (dom0 ready after 27 s against 108 s with two dom0 vCPUs under TCG at load 10). When it is
   * below `cpus`, dom0's vCPUs are pinned to the first CPUs (dom0_vcpus_pin).
   */
  dom0Vcpus?: number;
  /** A fresh qcow2 of this size, made in the temp dir, attached first (/dev/vda). */
  scratchDiskMiB?: number;
  disks?: VmDisk[];
  env?: Record<string, string>;
  /** Working directory inside the VM (the host's paths are all visible; default: process.cwd()). */
  cwd?: string;
  /** Keep the temp dir (console, job files) for debugging; its path is in the result. */
  keepTempDir?: boolean;
}

/** What came back from the VM. */
export interface VmRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The whole serial console (kernel, Xen, stage scripts). */
  console: string;
  durationMs: number;
  /** Seconds from QEMU's start to the command's start, as the guest saw it (uptime). */
  bootSeconds: number | undefined;
  tempDir: string;
}

/** Thrown when the VM did not report an exit status (timeout, crash, boot failure). */
export class VmFailedError extends Error {
  /** The guest kernel found a task blocked for 120 s and panicked (stage 2 asks it to). */
  readonly kernelHang: boolean;

  constructor(
    message: string,
    readonly console: string,
    /** The run's temp dir (gone by the time this is caught, unless kept). */
    readonly tempDir: string,
    /** Where the whole console was kept, if it was. */
    readonly consoleCopy?: string,
  ) {
    const kept = consoleCopy ? `\n(the whole console: ${consoleCopy}; the job's stdout beside it)` : '';
    super(`${message}${kept}\n--- last console lines ---\n${console.split('\n').slice(-40).join('\n')}`);
    this.name = 'VmFailedError';
    this.kernelHang = KERNEL_HANG.test(console);
  }
}

const KERNEL_HANG = /Kernel panic - not syncing: hung_task: blocked tasks/;

/** Boots a VM, runs `options.command` in it, powers it off and returns what it printed. */
export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  const started = Date.now();
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-vm-'));
  const jobDir = path.join(tempDir, 'job');
  fs.mkdirSync(jobDir);
  const consolePath = path.join(tempDir, 'console.log');
  try {
    const argv = await buildVmArgv(options, tempDir, jobDir, consolePath);
    const qemu = await runCommand(argv, { allowFailure: true, timeoutMs: options.timeoutMs });
    const consoleText = readIfExists(consolePath);
    const exitFile = path.join(jobDir, 'exit-code');
    if (!fs.existsSync(exitFile)) {
      // QEMU exits 0 on the SIGTERM of the timeout, so the clock tells a timeout from a crash.
      const how =
        qemu.durationMs >= options.timeoutMs
          ? `was killed after its timeout of ${options.timeoutMs} ms`
          : KERNEL_HANG.test(consoleText)
            ? 'stopped: the guest kernel found a task blocked for 120 s and panicked'
            : `exited with status ${qemu.exitCode}`;
      throw new VmFailedError(
        `the VM reported no exit status: QEMU ${how}: ${qemu.stderr.trim()}`,
        consoleText,
        tempDir,
        keepConsole(consolePath, path.join(jobDir, 'stdout')),
      );
    }
    const ready = /xenkit-vm: ready after ([\d.]+) s/.exec(consoleText);
    return {
      exitCode: Number(fs.readFileSync(exitFile, 'utf8').trim()),
      stdout: readIfExists(path.join(jobDir, 'stdout')),
      stderr: readIfExists(path.join(jobDir, 'stderr')),
      console: consoleText,
      durationMs: Date.now() - started,
      bootSeconds: ready ? Number(ready[1]) : undefined,
      tempDir,
    };
  } finally {
    if (!options.keepTempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

/**
 * Copies a failed VM's console, and what its job printed so far (the step it reached), under
 * .test-results/artifacts/vm (the temp dir goes away); returns the console's copy.
 */
function keepConsole(consolePath: string, stdoutPath: string): string | undefined {
  if (!fs.existsSync(consolePath)) return undefined;
  const dir = path.join(ARTIFACTS, 'vm');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const copy = path.join(dir, `console-${stamp}.log`);
  fs.copyFileSync(consolePath, copy);
  if (fs.existsSync(stdoutPath)) fs.copyFileSync(stdoutPath, path.join(dir, `stdout-${stamp}.log`));
  return copy;
}

/**
 * Runs a VM job, and once more on a fresh VM when the guest kernel hung (a task blocked in the
 * kernel for 120 s; seen once in CI: mkfs and dmeventd stuck right after boot, emulated I/O that
 * never completed). A hang that does not repeat on a fresh VM is the emulator's; one that repeats
 * fails the test. `makeOptions` is called per attempt so disks are fresh. The hang is reported
 * on stderr with its console (the blocked tasks' stacks) kept; any other failure is thrown.
 */
export async function runInVmRetryingKernelHang(
  makeOptions: () => Promise<VmRunOptions>,
): Promise<VmRunResult> {
  try {
    return await runInVm(await makeOptions());
  } catch (err) {
    if (!(err instanceof VmFailedError) || !err.kernelHang) throw err;
    console.warn(
      `the guest kernel hung (console kept: ${err.consoleCopy ?? 'none'}); running the VM job once more`,
    );
    return await runInVm(await makeOptions());
  }
}

async function buildVmArgv(
  options: VmRunOptions,
  tempDir: string,
  jobDir: string,
  consolePath: string,
): Promise<string[]> {
  const kernel = findGuestKernel();
  const initramfs = buildInitramfs(kernel);
  const job = Array.isArray(options.command)
    ? `exec ${options.command.map(quoteShell).join(' ')}`
    : options.command.script;
  fs.writeFileSync(path.join(jobDir, 'job.sh'), `${job}\n`);
  fs.writeFileSync(
    path.join(jobDir, 'stage2.sh'),
    renderStage2({
      kind: options.kind,
      body: `bash ${VM_JOB_DIR}/job.sh`,
      env: options.env ?? {},
      cwd: options.cwd ?? process.cwd(),
    }),
  );
  const disks: VmDisk[] = [];
  if (options.scratchDiskMiB) {
    const scratch = path.join(tempDir, 'scratch.qcow2');
    await runCommand(['qemu-img', 'create', '-q', '-f', 'qcow2', scratch, `${options.scratchDiskMiB}M`]);
    disks.push({ path: scratch, format: 'qcow2' });
  }
  disks.push(...(options.disks ?? []));
  const memory = options.memoryMiB ?? (options.kind === 'xen' ? 2048 : 1024);
  // One vCPU: under TCG on a 2-core host, a second one made nested Xen boot 4x slower (when dom0
  // ran on both: see dom0Vcpus).
  const cpus = options.cpus ?? 1;
  const name = `xenkit-vm-${randomBytes(4).toString('hex')}`;
  const argv = [
    'setpriv',
    '--pdeathsig',
    'KILL',
    'qemu-system-x86_64',
    '-name',
    name,
    '-accel',
    'tcg,thread=multi',
    '-m',
    String(memory),
    '-smp',
    String(cpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-no-reboot',
    '-chardev',
    `file,id=con,path=${consolePath}`,
    '-serial',
    'chardev:con',
    '-fsdev',
    'local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev',
    `local,id=xkjob,path=${jobDir},security_model=passthrough`,
    '-device',
    'virtio-9p-pci,fsdev=xkjob,mount_tag=xkjob',
    ...disks.flatMap((d, i) => [
      '-drive',
      `file=${d.path.replace(/,/g, ',,')},format=${d.format},if=virtio,cache=unsafe,index=${i}`,
    ]),
  ];
  const linuxArgs = 'panic=-1 loglevel=4 rdinit=/init';
  if (options.kind === 'linux') {
    argv.push(
      '-cpu',
      tcgCpuModel(false, await readQemuCpuFlags('qemu-system-x86_64', path.join(tempDir, 'cpu-flags.json'))),
      '-kernel',
      kernel.path,
      '-initrd',
      initramfs,
      '-append',
      `console=ttyS0 ${linuxArgs}`,
    );
  } else {
    const dom0 = options.dom0MemoryMiB ?? Math.min(1024, Math.floor(memory / 2));
    // Fewer dom0 vCPUs than CPUs: dom0's stay on the first CPUs, the others are the guests' own.
    const pin = options.dom0Vcpus !== undefined && options.dom0Vcpus < cpus ? ' dom0_vcpus_pin' : '';
    // PVH guests need +npt: Debian's Xen has no shadow paging.
    argv.push(
      '-cpu',
      'qemu64,+npt',
      '-kernel',
      findXenHypervisor(),
      '-append',
      `console=com1 com1=115200,8n1 dom0_mem=${dom0}M,max:${dom0}M dom0_max_vcpus=${options.dom0Vcpus ?? cpus}${pin} loglvl=warning guest_loglvl=warning`,
      '-initrd',
      `${kernel.path} console=hvc0 ${linuxArgs},${initramfs}`,
    );
  }
  return argv;
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
