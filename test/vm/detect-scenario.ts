/**
 * A step appended to an existing VM scenario script (no boot of its own): the built
 * `xenkit detect --json` runs inside the VM, its answer (with what systemd-detect-virt and
 * virt-what said there) comes back on one `@@ detect.json=` line, its exit status as
 * `@@ detect.exit=`.
 */

/** The bash step; `repo` is the checkout as the VM sees it. */
export function renderDetectStep(repo: string): string {
  return String.raw`
begin detect
node ${repo}/bin/xenkit.js detect --json > /run/xenkit-vm/detect.json; fact detect.exit $?
# One line: the JSON is pretty-printed, and no string in it holds a newline.
fact detect.json "$(tr -d '\n' < /run/xenkit-vm/detect.json)"
end detect
`;
}

/**
 * A step after the Xen scenarios (no boot of its own): the pv guest xg1 (its autostart boot) and
 * the pvh guest xg2 printed what `xenkit detect` reads on their consoles as they booted (their
 * kernel command line asked for it, see xen-guest.ts: the busybox guests have no node, and the
 * other boots do not pay for the capture); dom0 unpacks the first capture
 * of each and runs the built `xenkit detect --probe-root DIR --json` on it. Facts
 * `detect-pv.json`, `detect-pvh.json` and their `.exit`.
 */
export function renderDomuDetectStep(repo: string, consoleDir: string, begin: string, end: string): string {
  return String.raw`
begin detect-domu
# MODE GUEST: the first capture on the guest's console, unpacked and replayed.
detect_domu() {
  local dir=/tmp/capture-$1
  mkdir -p $dir
  tr -d '\r' < ${consoleDir}/guest-$2.log | awk '/${end}/{exit} f; /${begin}/{f=1}' | base64 -d | tar -xzf - -C $dir
  fact detect-$1.unpack $?
  node ${repo}/bin/xenkit.js detect --probe-root $dir --json > /run/xenkit-vm/detect-$1.json
  fact detect-$1.exit $?
  fact detect-$1.json "$(tr -d '\n' < /run/xenkit-vm/detect-$1.json)"
}
detect_domu pv xg1
detect_domu pvh xg2
end detect-domu
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
