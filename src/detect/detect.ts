/**
 * `xenkit detect`'s library side: reads every piece of evidence under a probe root, weighs it,
 * and (on the live machine, when asked) sets the other detectors' answers beside the verdict.
 */
import type { Verdict, WeighedEvidence } from './evidence.js';
import type { Evidence } from './evidence.js';
import { containerEvidence } from './container.js';
import { CPUID_DEVICE, cpuidEvidence } from './cpuid.js';
import { busEvidence, entropyEvidence, kthreadEvidence, macEvidence, rtcEvidence } from './devices.js';
import { clocksourceEvidence, dmiEvidence, hypervisorSysfsEvidence, kernelLogEvidence } from './platform.js';
import { probeRoot, readRootText, rootExists, type ProbeRoot } from './probe-root.js';
import { weighEvidence } from './weigh.js';
import { compareSystemdDetectVirt, compareVirtWhat, type OtherOpinion } from './compare.js';

/** What detection needs from outside; every program it runs is passed in. */
export interface DetectVirtOptions {
  /** The directory standing for `/` (default `/`). */
  root?: string;
  /** Loads the cpuid module (live machine, root, device missing); true when it did. */
  loadCpuidModule?: () => Promise<boolean>;
  /** Unloads it again after reading, when it was loaded for this run. */
  unloadCpuidModule?: () => Promise<boolean>;
  systemdDetectVirt?: () => Promise<{ vm: string; container: string } | undefined>;
  virtWhat?: () => Promise<{ facts: string[] } | undefined>;
}

/** The full answer. */
export interface DetectReport {
  verdict: Verdict;
  evidence: WeighedEvidence[];
  /** How CPUID was read (`cpuid device`, `cpuid device, module loaded for this run`, `cpuinfo flag`). */
  cpuidMethod: string;
  others: OtherOpinion[];
}

/** Reads every piece of evidence under `root`. */
export async function collectEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const groups = await Promise.all([
    cpuidEvidence(root),
    hypervisorSysfsEvidence(root),
    dmiEvidence(root),
    kernelLogEvidence(root),
    clocksourceEvidence(root),
    busEvidence(root),
    macEvidence(root),
    kthreadEvidence(root),
    rtcEvidence(root),
    entropyEvidence(root),
    containerEvidence(root),
  ]);
  return groups.flat();
}

/** Detects whether the machine under `options.root` is virtual, with the evidence. */
export async function detectVirtualization(options: DetectVirtOptions = {}): Promise<DetectReport> {
  const root = probeRoot(options.root);
  let loaded = false;
  if (root.isLive && !(await rootExists(root, CPUID_DEVICE)) && options.loadCpuidModule) {
    loaded = await options.loadCpuidModule();
  }
  let items: Evidence[];
  try {
    items = await collectEvidence(root);
  } finally {
    if (loaded) await options.unloadCpuidModule?.();
  }
  const { verdict, evidence } = weighEvidence(items);
  const cpuid = evidence.find((e) => e.name === 'cpuid.hypervisor-bit');
  const cpuidMethod = !cpuid
    ? 'none'
    : cpuid.source.startsWith('/proc/cpuinfo')
      ? 'the hypervisor flag of /proc/cpuinfo'
      : `/${CPUID_DEVICE}${loaded ? ' (cpuid module loaded for this run, unloaded after)' : ''}`;
  const asked = root.isLive
    ? { sdv: await options.systemdDetectVirt?.(), vw: await options.virtWhat?.() }
    : await recordedAnswers(root);
  const others: OtherOpinion[] = [];
  if (asked.sdv) others.push(compareSystemdDetectVirt(asked.sdv, verdict, evidence));
  if (asked.vw) others.push(compareVirtWhat(asked.vw.facts, verdict, evidence));
  return { verdict, evidence, cpuidMethod, others };
}

/** Where scripts/capture-detect.sh records the other detectors' answers in a capture. */
export const RECORDED_SYSTEMD_DETECT_VIRT = '.capture/systemd-detect-virt';
export const RECORDED_VIRT_WHAT = '.capture/virt-what';

/**
 * The other detectors' answers recorded in a capture (they read only the live machine, so a
 * replay cannot ask them): systemd-detect-virt's `--vm` then `--container` line, virt-what's
 * facts one per line. Missing files: the tool was not installed there.
 */
async function recordedAnswers(root: ProbeRoot): Promise<{
  sdv: { vm: string; container: string } | undefined;
  vw: { facts: string[] } | undefined;
}> {
  const sdvText = await readRootText(root, RECORDED_SYSTEMD_DETECT_VIRT);
  const vwText = await readRootText(root, RECORDED_VIRT_WHAT);
  const lines = (text: string): string[] =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  const sdvLines = sdvText === undefined ? [] : lines(sdvText);
  return {
    sdv: sdvLines.length > 0 ? { vm: sdvLines[0] ?? 'none', container: sdvLines[1] ?? 'none' } : undefined,
    vw: vwText === undefined ? undefined : { facts: lines(vwText) },
  };
}
