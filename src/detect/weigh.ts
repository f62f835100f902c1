/**
 * Weighs the evidence into a verdict. Each item counts its weight for what it indicates; the
 * hypervisor is the best-supported candidate among those with evidence of their own, where
 * evidence for a family counts for its members (a QEMU machine name for KVM and TCG alike, the
 * KVM interfaces for PVM, which speaks them). Every item is then marked believed or not, with why.
 */
import type {
  Container,
  Evidence,
  Hypervisor,
  Indication,
  Verdict,
  WeighedEvidence,
  XenMode,
  XenRole,
} from './evidence.js';

/** Which other hypervisors' evidence also supports a candidate (its families). */
const FAMILIES: Partial<Record<Hypervisor, Hypervisor[]>> = {
  pvm: ['kvm'],
  kvm: ['qemu'],
  'qemu-tcg': ['qemu'],
  amazon: ['kvm'],
  google: ['kvm'],
  firecracker: ['kvm'],
};

/** Whether evidence for `evidence` supports the verdict `chosen`. */
export function supportsHypervisor(chosen: Hypervisor, evidence: Hypervisor): boolean {
  if (chosen === evidence) return true;
  return (FAMILIES[chosen] ?? []).some((f) => supportsHypervisor(f, evidence));
}

/** The virtual/container thresholds: one strong item, or two medium ones, and more than against. */
const VIRTUAL_MIN = 3;
const CONTAINER_MIN = 3;

function sum(items: readonly Evidence[], kind: Indication['kind']): number {
  return items.filter((e) => e.indicates.kind === kind).reduce((n, e) => n + e.weight, 0);
}

function tally<K extends string>(entries: [K, number][]): K | undefined {
  const scores = new Map<K, number>();
  for (const [k, w] of entries) scores.set(k, (scores.get(k) ?? 0) + w);
  let best: K | undefined;
  for (const [k, w] of scores) if (w > 0 && (best === undefined || w > scores.get(best)!)) best = k;
  return best;
}

/** The hypervisor the `virtual` evidence supports best, or undefined when none is named. */
export function chooseHypervisor(items: readonly Evidence[]): Hypervisor | undefined {
  const named: [Hypervisor, number][] = [];
  for (const e of items) {
    if (e.indicates.kind === 'virtual' && e.indicates.hypervisor && e.weight > 0) {
      named.push([e.indicates.hypervisor, e.weight]);
    }
  }
  const candidates = [...new Set(named.map(([h]) => h))];
  const score = (c: Hypervisor): number =>
    named.filter(([h]) => supportsHypervisor(c, h)).reduce((n, [, w]) => n + w, 0);
  let best: Hypervisor | undefined;
  for (const c of candidates) {
    if (best === undefined || score(c) > score(best)) best = c;
    // Equal support: the more specific one (whose family includes the other) wins.
    else if (score(c) === score(best) && supportsHypervisor(c, best)) best = c;
  }
  return best;
}

function names(items: readonly Evidence[]): string {
  return items.map((e) => `${e.name} (${e.value})`).join(', ');
}

/** Weighs `items` into a verdict and marks each item believed or not. */
export function weighEvidence(items: readonly Evidence[]): { verdict: Verdict; evidence: WeighedEvidence[] } {
  const scores = {
    virtual: sum(items, 'virtual'),
    bareMetal: sum(items, 'bare-metal'),
    container: sum(items, 'container'),
    noContainer: sum(items, 'no-container'),
  };
  const isVirtual = scores.virtual >= VIRTUAL_MIN && scores.virtual > scores.bareMetal;
  const hypervisor = isVirtual ? chooseHypervisor(items) : undefined;
  const isXen = hypervisor === 'xen';
  const xenRole = isXen
    ? tally(
        items.flatMap((e): [XenRole, number][] =>
          e.indicates.kind === 'xen-role' ? [[e.indicates.role, e.weight]] : [],
        ),
      )
    : undefined;
  const xenMode = isXen
    ? tally(
        items.flatMap((e): [XenMode, number][] =>
          e.indicates.kind === 'xen-mode' ? [[e.indicates.mode, e.weight]] : [],
        ),
      )
    : undefined;
  const isContainer = scores.container >= CONTAINER_MIN && scores.container > scores.noContainer;
  const container = isContainer
    ? (tally(
        items.flatMap((e): [Container, number][] =>
          e.indicates.kind === 'container' && e.indicates.container
            ? [[e.indicates.container, e.weight]]
            : [],
        ),
      ) ?? 'container')
    : undefined;

  const against = (kind: Indication['kind']): Evidence[] =>
    items.filter((e) => e.indicates.kind === kind && e.weight > 0);
  const weighed = items.map((e): WeighedEvidence => {
    const ind = e.indicates;
    switch (ind.kind) {
      case 'virtual': {
        if (!isVirtual) {
          return {
            ...e,
            believed: false,
            why: `outweighed (${scores.virtual} for a hypervisor, ${scores.bareMetal} against: ${names(against('bare-metal'))})`,
          };
        }
        if (ind.hypervisor && hypervisor && !supportsHypervisor(hypervisor, ind.hypervisor)) {
          const support = items.filter(
            (o) =>
              o.indicates.kind === 'virtual' &&
              o.indicates.hypervisor &&
              o.weight > 0 &&
              supportsHypervisor(hypervisor, o.indicates.hypervisor),
          );
          return {
            ...e,
            believed: false,
            why: `points at ${ind.hypervisor}, but the weightier evidence says ${hypervisor}: ${names(support)}`,
          };
        }
        return { ...e, believed: true };
      }
      case 'bare-metal':
        return isVirtual
          ? {
              ...e,
              believed: false,
              why: `outweighed by the evidence for a hypervisor: ${names(against('virtual'))}`,
            }
          : { ...e, believed: true };
      case 'container':
        if (!isContainer) {
          return {
            ...e,
            believed: false,
            why: `outweighed by the evidence against a container: ${names(against('no-container'))}`,
          };
        }
        return ind.container && container && ind.container !== container
          ? { ...e, believed: false, why: `the weightier evidence says ${container}` }
          : { ...e, believed: true };
      case 'no-container':
        return isContainer
          ? {
              ...e,
              believed: false,
              why: `outweighed by the evidence for a container: ${names(against('container'))}`,
            }
          : { ...e, believed: true };
      case 'xen-role':
        return !isXen || ind.role !== xenRole
          ? { ...e, believed: false, why: isXen ? `the weightier evidence says ${xenRole}` : 'not under Xen' }
          : { ...e, believed: true };
      case 'xen-mode':
        return !isXen || ind.mode !== xenMode
          ? { ...e, believed: false, why: isXen ? `the weightier evidence says ${xenMode}` : 'not under Xen' }
          : { ...e, believed: true };
      default:
        return { ...e, believed: true };
    }
  });

  const verdict: Verdict = {
    isVirtual,
    hypervisor,
    xenRole,
    xenMode,
    isContainer,
    container,
    scores,
    summary: summarize(isVirtual, hypervisor, xenRole, xenMode, container),
  };
  return { verdict, evidence: weighed };
}

function summarize(
  isVirtual: boolean,
  hypervisor: Hypervisor | undefined,
  role: XenRole | undefined,
  mode: XenMode | undefined,
  container: Container | undefined,
): string {
  const machine = !isVirtual
    ? 'not virtual (bare metal)'
    : hypervisor === 'xen'
      ? `virtual: xen${role ? ` ${role}` : ''}${mode ? ` (${mode})` : ''}`
      : `virtual: ${hypervisor ?? 'unknown hypervisor'}`;
  return `${machine}; ${container ? `in a container: ${container}` : 'not in a container'}`;
}
