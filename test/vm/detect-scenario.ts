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
