#!/usr/bin/env node
/**
 * Runs in the LVM VM (plain JavaScript: the VM runs the host's node on this checkout's dist/):
 * `xenkit backup create` of a guest that xenkit takes for running under Xen, with the real LVM
 * snapshot code. Only "is it running" is faked (an xl that lists the guest) and the driver's
 * pause/unpause are recorded; lvcreate --snapshot, the read and lvremove are real.
 *
 *   node lvm-running-backup.mjs ROOT REPO-DIR GUEST FAKE-XL PREFIX [abort]
 *
 * Prints `@@ PREFIX.KEY=VALUE` lines: the outcome's point in time, the calls to the driver, the
 * snapshot volumes seen while it was read (lvs), and with `abort` how a Ctrl-C in the middle of
 * the read ended (its error code). The last line of stdout is the outcome as JSON.
 */
/* global AbortController */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [root, repoDir, guest, fakeXl, prefix, mode] = process.argv.slice(2);
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist');
const { buildBackupCreatePlan } = await import(`${dist}/images/backup-create.js`);
const { executePlan } = await import(`${dist}/plan/executor.js`);
const { makePaths } = await import(`${dist}/paths.js`);

const fact = (key, value) => console.log(`@@ ${prefix}.${key}=${value}`);
const snapshots = () =>
  execFileSync('lvs', ['--noheadings', '-o', 'lv_name,origin'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes('xenkit-snap'))
    .map((l) => l.replace(/\s+/g, ':'))
    .join(',');
const calls = [];
const driver = {
  name: 'xl',
  pause: async (name) => void calls.push(`pause ${name}`),
  unpause: async (name) => void calls.push(`unpause ${name}`),
};
const controller = new AbortController();
let seen = '';
const reporter = {
  stepStart: () => undefined,
  stepEnd: () => undefined,
  progress: () => undefined,
  warn: () => undefined,
  info: (message) => {
    if (!/^reading .*xenkit-snap/.test(message)) return;
    if (!seen) seen = snapshots();
    if (mode === 'abort') controller.abort();
  },
};
let outcome = { snapshots: [] };
try {
  const built = buildBackupCreatePlan(makePaths(root), {
    repoDir,
    names: [guest],
    xenkitVersion: 'vm-test',
    running: { xl: fakeXl },
    driverFor: async () => driver,
  });
  outcome = built.outcome;
  await executePlan(built.plan, { reporter, signal: controller.signal });
  fact('exit', 0);
} catch (error) {
  fact('exit', 1);
  fact('code', error.code ?? error.name);
  console.error(error);
}
fact('calls', calls.join('|'));
fact('seen', seen);
fact('left', snapshots());
const pit = outcome.snapshots[0]?.pointInTime;
if (pit) {
  fact('method', pit.method);
  fact('pausedMs', pit.pausedMs);
  fact('newChunks', outcome.snapshots[0].newChunks);
}
console.log(JSON.stringify(outcome));
