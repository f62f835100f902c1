import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/bin/xenkit.js';
import { makePaths, type Paths } from '../../src/paths.js';
import { identityOf, listJournals, RunJournal } from '../../src/plan/run-journal.js';
import { captureIo } from '../helpers/capture-io.js';

/** Runs `xenkit ARGS` in-process; returns the exit status and what it printed. */
async function xenkit(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(args, { ...c.io, stdin: Readable.from([]), isTTY: false });
  return { code, out: c.out(), err: c.err() };
}

/** A journal of a run that died after it made `file`, and its temporary directory. */
function deadRun(paths: Paths, file: string): void {
  const runs = path.join(paths.libDir, 'runs');
  const journal = new RunJournal(runs, 'create-image web1');
  journal.addGuest('web1');
  fs.writeFileSync(file, 'partial');
  journal.record(`remove ${file}`, { kind: 'file', path: file, ...identityOf(fs.statSync(file)) });
  const data = listJournals(runs)[0]!.data;
  fs.writeFileSync(journal.file, JSON.stringify({ ...data, holder: { ...data.holder, startTime: 1 } }));
}

describe('xenkit doctor', () => {
  let paths: Paths;
  beforeEach(() => {
    paths = makePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-doctor-')));
  });
  afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

  it('says there is nothing to clean up and exits 0 on a clean host', async () => {
    const run = await xenkit(['doctor', `--root=${paths.root}`]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('nothing to clean up');
  });

  it('lists what a dead run left with --dry-run and changes nothing', async () => {
    const file = path.join(paths.root, 'disk.img');
    deadRun(paths, file);
    const run = await xenkit(['doctor', '--dry-run', `--root=${paths.root}`]);
    expect(run.code).toBe(0);
    expect(run.out).toContain(`(pid ${process.pid}, create-image web1) left:\n  would remove ${file}\n`);
    expect(fs.existsSync(file)).toBe(true);
    expect(listJournals(path.join(paths.libDir, 'runs'))).toHaveLength(1);
  });

  it('cleans up after a dead run and reports it as JSON', async () => {
    const file = path.join(paths.root, 'disk.img');
    deadRun(paths, file);
    const orphan = path.join(paths.libDir, 'tmp', '999999999-5');
    fs.mkdirSync(path.join(orphan, 'xenkit-hostkeys-x'), { recursive: true });
    const run = await xenkit(['doctor', '--json', `--root=${paths.root}`]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as {
      ok: boolean;
      runs: { pid: number; cleaned: string[] }[];
      temporaries: { path: string }[];
    };
    expect(report.ok).toBe(true);
    expect(report.runs).toMatchObject([{ pid: process.pid, cleaned: [`removed ${file}`] }]);
    expect(report.temporaries.map((t) => t.path)).toEqual([orphan]);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.existsSync(orphan)).toBe(false);
    expect(listJournals(path.join(paths.libDir, 'runs'))).toEqual([]);
  });

  it('leaves a run that is still going alone', async () => {
    const runs = path.join(paths.libDir, 'runs');
    const journal = new RunJournal(runs, 'clone a b');
    const file = path.join(paths.root, 'disk.img');
    fs.writeFileSync(file, '');
    journal.record('x', { kind: 'file', path: file });
    const run = await xenkit(['doctor', `--root=${paths.root}`]);
    expect(run.out).toContain(`running: pid ${process.pid} (clone a b), left alone`);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('documents itself in --help', async () => {
    const run = await xenkit(['doctor', '--help']);
    expect(run.out).toContain('--dry-run');
    expect(run.out).toContain('SIGKILL');
  });
});
