/** Crash recovery against fake LVM tools (lvs, lvrename, lvremove), and of --ip=auto claims. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimIp, usedStateFile } from '../../src/config/ips-file.js';
import { debrisHandlers } from '../../src/images/recover.js';
import { makePaths } from '../../src/paths.js';
import { recoverJournals } from '../../src/plan/recover-journal.js';
import { listJournals, RunJournal } from '../../src/plan/run-journal.js';
import { fakeLvmLog, fakeLvmVolumes, makeFakeLvm } from '../helpers/fake-lvm.js';
import { makeTempDir, removeDir, withPathFirst } from '../helpers/storage-fixtures.js';

let bin: string;
afterEach(() => removeDir(bin));

function fakeLvm(volumes: string[]): void {
  bin = makeFakeLvm(volumes);
}

const log = (): string[] => fakeLvmLog(bin);
const volumes = (): string[] => fakeLvmVolumes(bin);

describe('recovering an LVM guest replaced with --force', () => {
  it.each([
    ['after both renames', ['vg0 g1-disk', 'vg0 g1-disk.xenkit-old-aa']],
    ['between the renames', ['vg0 g1-disk.xenkit-new-bb', 'vg0 g1-disk.xenkit-old-aa']],
    ['before the renames', ['vg0 g1-disk', 'vg0 g1-disk.xenkit-new-bb']],
  ])('killed %s, the old volume is back under its name and the new one is gone', async (_when, before) => {
    fakeLvm(before);
    const runs = path.join(bin, 'runs');
    const journal = new RunJournal(runs, 'create-image g1');
    journal.record('new volume', { kind: 'lv', vg: 'vg0', name: 'g1-disk.xenkit-new-bb' });
    journal.record('put back', {
      kind: 'lv-rename',
      vg: 'vg0',
      from: 'g1-disk',
      to: 'g1-disk.xenkit-old-aa',
    });
    journal.record('rename back', {
      kind: 'lv-rename',
      vg: 'vg0',
      from: 'g1-disk.xenkit-new-bb',
      to: 'g1-disk',
    });
    const data = listJournals(runs)[0]!.data;
    fs.writeFileSync(journal.file, JSON.stringify({ ...data, holder: { ...data.holder, startTime: 1 } }));
    const [report] = await withPathFirst(bin, () => recoverJournals(runs, debrisHandlers(makePaths(bin))));
    expect(report?.left).toEqual([]);
    expect(volumes()).toEqual(['vg0 g1-disk']);
    expect(log().at(-1)).toBe('lvremove --yes --force vg0/g1-disk.xenkit-new-bb');
  });
});

describe('recovering an --ip=auto claim of a killed create', () => {
  it('gives back the address the dead run claimed, and no other claim', async () => {
    bin = makeTempDir('ip-claim');
    const paths = makePaths(bin);
    fs.mkdirSync(paths.libDir, { recursive: true, mode: 0o700 });
    const ipfile = path.join(bin, 'ips.txt');
    fs.writeFileSync(ipfile, '10.0.0.2\n10.0.0.3\n10.0.0.4\n');
    // Another guest's claim, and one web1 held before (the guest a --force run would replace).
    fs.writeFileSync(usedStateFile(paths), '10.0.0.3 web2\n10.0.0.4 web1\n');
    const runs = path.join(bin, 'runs');
    const journal = new RunJournal(runs, 'create-image web1');
    const claimed = await claimIp(paths, ipfile, 'web1', undefined, undefined, (address) =>
      journal.record(`release address ${address}`, { kind: 'ip-claim', address, name: 'web1' }),
    );
    expect(claimed.address).toBe('10.0.0.2');
    const data = listJournals(runs)[0]!.data;
    fs.writeFileSync(journal.file, JSON.stringify({ ...data, holder: { ...data.holder, startTime: 1 } }));
    const [report] = await recoverJournals(runs, debrisHandlers(paths));
    expect(report?.cleaned).toEqual(['gave back the address 10.0.0.2 of web1']);
    expect(fs.readFileSync(usedStateFile(paths), 'utf8')).toBe('10.0.0.3 web2\n10.0.0.4 web1\n');
    expect((await claimIp(paths, ipfile, 'web1')).address).toBe('10.0.0.2');
  });
});
