/**
 * `xenkit detect` for real on this machine, from the built CLI, checked against facts the test
 * establishes with other tools: the kernel's own "Hypervisor detected" line (util-linux dmesg),
 * the CPUID hypervisor leaf read with dd from the cpuid device, whether PID 2 is kthreadd (ps),
 * and the answers of systemd-detect-virt and virt-what run here.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { assertBuilt } from '../e2e/lab-guest.js';
import { runBin } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
/** The kernel log as util-linux dmesg prints it (read at load: it decides which cases run). */
function readDmesg(): string {
  try {
    return execFileSync('dmesg', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
const dmesg = isRoot ? readDmesg() : '';

interface DetectJson {
  virtual: boolean;
  hypervisor: string | null;
  container: string | null;
  summary: string;
  cpuidMethod: string;
  evidence: { name: string; value: string; believed: boolean; why?: string }[];
  others: { tool: string; said: string; agrees: boolean; why: string[] }[];
}

/** The hypervisor the kernel's boot line names, in xenkit's words. */
function kernelHypervisor(dmesg: string): string | undefined {
  // The boot banner stays longer in the ring buffer than the detection line, which comes first.
  const name = (/Hypervisor detected: (.+)$/m.exec(dmesg) ??
    /Booting paravirtualized kernel on (?!bare hardware)(.+)$/m.exec(dmesg))?.[1]?.trim();
  if (name === undefined) return undefined;
  const table: [RegExp, string][] = [
    [/^PVM/, 'pvm'],
    [/^KVM/, 'kvm'],
    [/^Xen/, 'xen'],
    [/VMware/, 'vmware'],
    [/Hyper-V/, 'hyperv'],
  ];
  return table.find(([re]) => re.test(name))?.[1] ?? name;
}

describe.skipIf(!isRoot)('xenkit detect on this machine', () => {
  let report: DetectJson;
  let code: number | null;
  let cpuidWasLoaded = false;

  beforeAll(async () => {
    assertBuilt();
    cpuidWasLoaded = fs.existsSync('/dev/cpu/0/cpuid');
    const run = await runBin('xenkit', ['detect', '--json'], { timeoutMs: 120_000 });
    code = run.code;
    report = JSON.parse(run.stdout) as DetectJson;
    console.log(
      `xenkit detect here: ${report.summary}; ${report.others.map((o) => `${o.tool}: ${o.said}`).join('; ')}`,
    );
  });

  it('leaves the cpuid module as it found it', () => {
    expect(fs.existsSync('/dev/cpu/0/cpuid')).toBe(cpuidWasLoaded);
  });

  it('names the hypervisor the kernel names in its own boot line, and exits 0 for it', () => {
    const kernel = kernelHypervisor(dmesg);
    if (kernel === undefined) {
      const flag = /^flags\s*:.*\bhypervisor\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
      expect(report.virtual).toBe(flag);
    } else {
      expect(report.virtual).toBe(true);
      expect(report.hypervisor).toBe(kernel);
    }
    expect(code).toBe(report.virtual || report.container !== null ? 0 : 1);
  });

  it('reads the same CPUID hypervisor leaf as dd does from the cpuid device', async () => {
    const loaded =
      !fs.existsSync('/dev/cpu/0/cpuid') &&
      (await runCommand(['modprobe', 'cpuid'], { allowFailure: true })).exitCode === 0;
    try {
      const dd = await runCommand(
        [
          'dd',
          'if=/dev/cpu/0/cpuid',
          'bs=16',
          'iflag=skip_bytes',
          `skip=${0x40000000}`,
          'count=1',
          'status=none',
        ],
        { binary: true, allowFailure: true },
      );
      const bytes = Buffer.from(dd.stdout as unknown as Buffer);
      expect(report.cpuidMethod).toMatch(/^\/dev\/cpu\/0\/cpuid/);
      const signature = report.evidence.find((e) => e.name === 'cpuid.signature');
      const max = bytes.readUInt32LE(0);
      if (max >= 0x40000000 && max < 0x40000100) {
        const text = bytes.subarray(4, 16).toString('latin1').replace(/\0+$/, '');
        expect(signature?.value).toBe(JSON.stringify(text));
      } else {
        expect(signature?.value ?? 'none').toBe('none');
      }
    } finally {
      if (loaded) await runCommand(['modprobe', '-r', 'cpuid'], { allowFailure: true });
    }
  });

  it('finds no container where PID 2 is the kernel thread daemon', async () => {
    const ps = await runCommand(['ps', '-o', 'comm=', '-p', '2'], { allowFailure: true });
    if (ps.stdout.trim() === 'kthreadd') expect(report.container).toBeNull();
    else expect(report.container).not.toBeNull();
  });

  it('shows what systemd-detect-virt and virt-what say here', async () => {
    const tools: [string, string[]][] = [
      ['systemd-detect-virt', ['systemd-detect-virt', '--vm']],
      ['virt-what', ['virt-what']],
    ];
    for (const [tool, argv] of tools) {
      const ran = await runCommand(argv, {
        allowFailure: true,
        env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
      }).catch(() => undefined);
      const opinion = report.others.find((o) => o.tool === tool);
      if (ran === undefined || ran.exitCode === 127) continue;
      expect(opinion, tool).toBeDefined();
      const first = ran.stdout.trim().split('\n')[0] ?? '';
      if (first) expect(opinion!.said).toContain(first);
      expect(opinion!.agrees).toBe(opinion!.why.length === 0);
    }
  });

  it('prints nothing with --quiet and gives the same exit status', async () => {
    const run = await runBin('xenkit', ['detect', '--quiet'], { timeoutMs: 120_000 });
    expect(run.stdout).toBe('');
    expect(run.code).toBe(code);
  });

  // The machine this was built on: a PVM guest (KVM-based, under a hypervisor that signs
  // "bhyve bhyve " to user-mode CPUID) whose image still has docker's /.dockerenv.
  it.runIf(fs.existsSync('/.dockerenv'))(
    'says whether it believes /.dockerenv, and why the others differ',
    async () => {
      const ps = await runCommand(['ps', '-o', 'comm=', '-p', '2'], { allowFailure: true });
      const hint = report.evidence.find((e) => e.name === 'container.dockerenv');
      expect(hint).toMatchObject({ value: 'present', believed: ps.stdout.trim() !== 'kthreadd' });
      const sdv = report.others.find((o) => o.tool === 'systemd-detect-virt');
      if (!hint!.believed && /container: docker/.test(sdv?.said ?? '')) {
        expect(sdv?.why.join('\n')).toMatch(/says docker from hints xenkit does not believe/);
      }
      const signature = report.evidence.find((e) => e.name === 'cpuid.signature');
      if (/vm: bhyve/.test(sdv?.said ?? '') && /KVMKVMKVM/.test(signature?.value ?? '')) {
        expect(['pvm', 'kvm']).toContain(report.hypervisor);
        expect(sdv?.why.join('\n')).toMatch(/CPUID instruction in user mode/);
      }
    },
  );
});
