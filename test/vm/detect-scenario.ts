import { DETECT_CAPTURE_BEGIN, DETECT_CAPTURE_END } from './xen-guest.js';

/**
 * A step appended to an existing VM scenario script (no boot of its own): the built
 * `xenkit detect --json` runs inside the VM, its answer (with what systemd-detect-virt and
 * virt-what said there) comes back on one `@@ detect.json=` line, its exit status as
 * `@@ detect.exit=`.
 */

/** A Xen guest whose console log holds its detect capture (see xen-guest.ts). */
export interface CapturedGuest {
  name: string;
  consoleLog: string;
}

/**
 * The bash step; `repo` is the checkout as the VM sees it. For each of `guests` (busybox Xen
 * guests without node), the capture from its console is unpacked and replayed with
 * --probe-root: `@@ detect.NAME=` (and kept in the job directory as detect-NAME/).
 */
export function renderDetectStep(repo: string, guests: CapturedGuest[] = []): string {
  const replays = guests
    .map(
      (g) => String.raw`
mkdir -p /run/xenkit-vm/detect-${g.name}
tr -d '\r' < ${g.consoleLog} | awk '/${DETECT_CAPTURE_END}/{exit} p{print} /${DETECT_CAPTURE_BEGIN}/{p=1}' \
  | base64 -d | tar -xzf - -C /run/xenkit-vm/detect-${g.name}
fact detect.${g.name} "$(node ${repo}/bin/xenkit.js detect --json --probe-root /run/xenkit-vm/detect-${g.name} 2>&1 | tr -d '\n')"
`,
    )
    .join('');
  return String.raw`
begin detect${replays}
# One line: the JSON is pretty-printed, and no string in it holds a newline.
fact detect.json "$(node ${repo}/bin/xenkit.js detect --json 2>/dev/null | tr -d '\n')"
node ${repo}/bin/xenkit.js detect --quiet; fact detect.exit $?
end detect
`;
}

/** What the detect step reported, parsed. */
export interface DetectFacts {
  virtual: boolean;
  hypervisor: string | null;
  xenRole: string | null;
  xenMode: string | null;
  container: string | null;
  summary: string;
  cpuidMethod: string;
  others: { tool: string; said: string; agrees: boolean; why: string[] }[];
}

/** Parses the `detect.json` fact. */
export function parseDetectFact(json: string | undefined): DetectFacts {
  if (!json) throw new Error('the VM reported no detect.json');
  return JSON.parse(json) as DetectFacts;
}

/** One line for the test log: the verdict and the other detectors' answers. */
export function describeDetect(where: string, facts: DetectFacts): string {
  return `${where}: xenkit detect: ${facts.summary}; ${facts.others.map((o) => `${o.tool}: ${o.said}`).join('; ')}`;
}
