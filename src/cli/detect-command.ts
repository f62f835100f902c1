/** `xenkit detect [--json] [--quiet] [--probe-root DIR]`: is this machine virtual, and why. */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { detectVirtualization, type DetectReport } from '../detect/detect.js';
import {
  loadKernelModule,
  runSystemdDetectVirt,
  runVirtWhat,
  unloadKernelModule,
} from '../tools/detect-virt.js';
import type { CliIO } from './run-cli.js';

/** What `detect` needs from outside. */
export interface DetectCommandDeps {
  io: CliIO;
  /** Replaces the live detection (tests). */
  detect?: typeof detectVirtualization;
}

interface DetectFlags {
  json?: boolean;
  quiet?: boolean;
  probeRoot?: string;
}

const MARK = { believed: '+', doubted: '-', info: '.' };

/** The text `detect` prints for `report`. */
export function renderDetectReport(report: DetectReport): string {
  const { verdict } = report;
  const lines = [
    verdict.summary,
    `CPUID read through ${report.cpuidMethod}`,
    '',
    'evidence (+ believed, - not believed, . says nothing; [weight]):',
  ];
  for (const e of report.evidence) {
    const mark =
      e.weight === 0 && e.indicates.kind !== 'none'
        ? MARK.info
        : e.indicates.kind === 'none'
          ? MARK.info
          : e.believed
            ? MARK.believed
            : MARK.doubted;
    lines.push(`  ${mark} [${e.weight}] ${e.name} = ${e.value}`);
    lines.push(`        from ${e.source}: ${e.meaning}`);
    if (!e.believed && e.why) lines.push(`        not believed: ${e.why}`);
  }
  if (report.others.length > 0) {
    lines.push('', 'other detectors:');
    for (const o of report.others) {
      lines.push(`  ${o.tool}: ${o.said}: ${o.agrees ? 'agrees' : 'xenkit disagrees'}`);
      for (const w of o.why) lines.push(`    - ${w}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The JSON `detect --json` prints. */
export function detectReportJson(report: DetectReport): Record<string, unknown> {
  const v = report.verdict;
  return {
    ok: true,
    virtual: v.isVirtual,
    hypervisor: v.hypervisor ?? null,
    xenRole: v.xenRole ?? null,
    xenMode: v.xenMode ?? null,
    container: v.container ?? null,
    summary: v.summary,
    scores: v.scores,
    cpuidMethod: report.cpuidMethod,
    evidence: report.evidence,
    others: report.others,
  };
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Adds `detect` to `program`. */
export function addDetectCommand(program: Command, deps: DetectCommandDeps): void {
  program
    .command('detect')
    .summary('is this machine virtual (which hypervisor, Xen role and mode, container), with the evidence')
    .description(
      'Tell whether this machine runs under a hypervisor, which one (xen, kvm, pvm, qemu-tcg, bhyve, ' +
        'vmware, hyperv, ...), for Xen the role (dom0 or domU) and mode (pv, pvh or hvm), and, ' +
        'separately, whether it runs in a container (docker, podman, lxc, systemd-nspawn). Every ' +
        'piece of evidence is shown with what it means, how much it weighs and whether it is ' +
        'believed: CPUID (read through /dev/cpu/0/cpuid, loading the cpuid module for the run ' +
        'when root; else the hypervisor flag of /proc/cpuinfo), /sys/hypervisor, ' +
        '/proc/xen/capabilities, DMI, the kernel log, the clocksource, xen and virtio devices, ' +
        'NIC MAC prefixes, the xenbus/xenwatch threads, the hardware clock, entropy, and ' +
        'container hints. Where systemd-detect-virt and virt-what are installed, their answers ' +
        'are shown with where and why xenkit disagrees. Exit status as systemd-detect-virt: 0 ' +
        'when virtual (a VM or a container), 1 when not.',
    )
    .option('--json', 'print the verdict and every piece of evidence as JSON')
    .option('-q, --quiet', 'print nothing; only the exit status answers')
    .option(
      '--probe-root <dir>',
      'read /proc, /sys, /dev and / from DIR, a tree captured by scripts/capture-detect.sh; ' +
        "the other detectors' answers recorded there are compared instead of asked",
    )
    .action(async (flags: DetectFlags) => {
      if (flags.json && flags.quiet) {
        throw usageError('E_DETECT_FLAGS', '--json and --quiet ask for opposite things', 'use one of them');
      }
      if (flags.probeRoot !== undefined) {
        if (!isDirectory(flags.probeRoot)) {
          throw usageError(
            'E_PROBE_ROOT',
            `--probe-root "${flags.probeRoot}" is not a directory`,
            'give a tree captured with scripts/capture-detect.sh, or leave it out to look at this machine',
          );
        }
      }
      const detect = deps.detect ?? detectVirtualization;
      const report = await detect({
        ...(flags.probeRoot !== undefined ? { root: flags.probeRoot } : {}),
        ...(process.getuid?.() === 0
          ? {
              loadCpuidModule: () => loadKernelModule('cpuid'),
              unloadCpuidModule: () => unloadKernelModule('cpuid'),
            }
          : {}),
        systemdDetectVirt: runSystemdDetectVirt,
        virtWhat: runVirtWhat,
      });
      if (flags.json) deps.io.stdout.write(`${JSON.stringify(detectReportJson(report), null, 2)}\n`);
      else if (!flags.quiet) deps.io.stdout.write(renderDetectReport(report));
      process.exitCode = report.verdict.isVirtual || report.verdict.isContainer ? 0 : 1;
    });
}
