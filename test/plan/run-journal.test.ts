import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/plan/executor.js';
import type { Plan } from '../../src/plan/plan.js';
import { identifyProcess, parseProcStat } from '../../src/plan/process-identity.js';
import { recoverJournals, type DebrisHandlers } from '../../src/plan/recover-journal.js';
import {
  identityOf,
  listJournals,
  RunJournal,
  runMarkerEnv,
  setActiveJournal,
} from '../../src/plan/run-journal.js';
import { runCommand } from '../../src/tools/exec.js';
import { UndoStack } from '../../src/plan/undo-stack.js';
import { moveIntoPlace, writeFileAtomically } from '../../src/plan/write-file.js';

const silent = (): void => undefined;
const noTools: DebrisHandlers = {
  unmount: async () => undefined,
  detachLoop: async () => undefined,
  removeTree: async (dir) => {
    fs.rmSync(dir, { recursive: true });
    return `removed ${dir}`;
  },
  clearImmutable: async () => undefined,
  renameVolume: async () => undefined,
  removeVolume: async () => undefined,
  removeLibvirtVolume: async () => undefined,
  undefineLibvirtDomain: async () => undefined,
  releaseAddress: async () => undefined,
  restoreGuestFiles: async () => undefined,
};

/** Makes the run that wrote the journals in `dir` look dead (as if it had been killed). */
function killHolder(dir: string): void {
  for (const { file, data } of listJournals(dir)) {
    fs.writeFileSync(file, JSON.stringify({ ...data, holder: { ...data.holder, startTime: 1 } }));
  }
}

describe('run journal and crash recovery', () => {
  let dir: string;
  let runs: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-journal-'));
    runs = path.join(dir, 'runs');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('records a thing before it is made, then its identity, in a private file', () => {
    const undo = new UndoStack();
    undo.journal = new RunJournal(runs, 'test');
    const file = path.join(dir, 'disk.img');
    const intent = undo.expect(`remove ${file}`, { kind: 'file', path: file });
    expect(listJournals(runs)[0]?.data.records[0]?.debris).toEqual({ kind: 'file', path: file });
    fs.writeFileSync(file, 'x');
    const st = fs.statSync(file);
    intent.made({ kind: 'file', path: file, ...identityOf(st) });
    undo.push(`remove ${file}`, () => fs.rmSync(file), intent);
    expect(listJournals(runs)[0]?.data.records[0]?.debris).toMatchObject({ ino: st.ino });
    expect(fs.statSync(undo.journal.file).mode & 0o777).toBe(0o600);
    undo.release(`remove ${file}`);
    expect(listJournals(runs)[0]?.data.records).toEqual([]);
  });

  it('removes the journal when the plan commits or unwinds cleanly, keeps it when an undo fails', async () => {
    const ok: Plan = {
      subject: 't',
      steps: [{ id: 'a', title: 'a', actions: [], run: async () => undefined }],
    };
    await executePlan(ok, { journal: { dir: runs, command: 'test' } });
    expect(listJournals(runs)).toEqual([]);
    const failing: Plan = {
      subject: 't',
      steps: [
        {
          id: 'a',
          title: 'a',
          actions: [],
          run: async (ctx) => {
            ctx.undo.push('cannot undo', () => Promise.reject(new Error('busy')), {
              kind: 'dir',
              path: path.join(dir, 'made'),
            });
            throw new Error('step failed');
          },
        },
      ],
    };
    await expect(executePlan(failing, { journal: { dir: runs, command: 'test' } })).rejects.toThrow();
    expect(listJournals(runs)[0]?.data.records.map((r) => r.description)).toEqual(['cannot undo']);
  });

  it('gives a run a private 0700 TMPDIR and removes it at the end', async () => {
    const tmpRoot = path.join(dir, 'tmp');
    let seen = '';
    const plan: Plan = {
      subject: 't',
      steps: [
        {
          id: 'a',
          title: 'a',
          actions: [],
          run: async () => {
            seen = os.tmpdir();
            fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-hostkeys-'));
          },
        },
      ],
    };
    const before = process.env.TMPDIR;
    await executePlan(plan, { journal: { dir: runs, command: 'test', tmpRoot } });
    expect(path.dirname(seen)).toBe(tmpRoot);
    expect(fs.statSync(tmpRoot).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(tmpRoot)).toEqual([]);
    expect(process.env.TMPDIR).toBe(before);
  });

  it('removes what a killed run made, only while it is the same file, and leaves the rest', async () => {
    const undo = new UndoStack();
    undo.journal = new RunJournal(runs, 'create-image web1');
    undo.journal.addGuest('web1');
    const made = path.join(dir, 'made.img');
    const replaced = path.join(dir, 'replaced.img');
    for (const file of [made, replaced]) {
      fs.writeFileSync(file, 'partial');
      const st = fs.statSync(file);
      undo.push(`remove ${file}`, silent, { kind: 'file', path: file, ...identityOf(st) });
    }
    // Someone else's file now has the name: not the one the run made.
    fs.rmSync(replaced);
    fs.writeFileSync(replaced, 'not ours');
    const emptyDir = path.join(dir, 'domains');
    fs.mkdirSync(emptyDir);
    undo.push('rmdir', silent, { kind: 'dir', path: emptyDir });
    killHolder(runs);

    expect(await recoverJournals(runs, noTools, { guest: 'other' })).toEqual([]);
    const [report] = await recoverJournals(runs, noTools, { guest: 'web1' });
    expect(report?.cleaned).toEqual([`removed ${emptyDir}`, `removed ${made}`]);
    expect(fs.existsSync(made)).toBe(false);
    expect(fs.readFileSync(replaced, 'utf8')).toBe('not ours');
    expect(listJournals(runs)).toEqual([]);
  });

  it('leaves the journal of a run that is still going alone', async () => {
    const journal = new RunJournal(runs, 'create-image web1');
    journal.addGuest('web1');
    const file = path.join(dir, 'in-progress');
    fs.writeFileSync(file, '');
    journal.record('x', { kind: 'file', path: file });
    expect(await recoverJournals(runs, noTools, { guest: 'web1' })).toEqual([]);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('leaves a file recorded as about to be made if it is older than the record', async () => {
    const file = path.join(dir, 'disk.img');
    fs.writeFileSync(file, 'old guest');
    fs.utimesSync(file, new Date(2020, 0, 1), new Date(2020, 0, 1));
    const journal = new RunJournal(runs, 't');
    // birthtime is not settable: pretend the record is from far in the future instead.
    journal.record('x', { kind: 'file', path: file });
    const data = listJournals(runs)[0]!.data;
    fs.writeFileSync(
      journal.file,
      JSON.stringify({
        ...data,
        holder: { ...data.holder, startTime: 1 },
        records: data.records.map((r) => ({ ...r, at: Date.now() + 60_000 })),
      }),
    );
    await recoverJournals(runs, noTools);
    expect(fs.readFileSync(file, 'utf8')).toBe('old guest');
  });

  it('puts back the file a killed --force run replaced, and removes one that was new', async () => {
    const undo = new UndoStack();
    undo.journal = new RunJournal(runs, 't');
    const cfg = path.join(dir, 'web1.cfg');
    const fresh = path.join(dir, 'web2.cfg');
    fs.writeFileSync(cfg, 'old');
    await writeFileAtomically(cfg, 'new', 0o644, { undo });
    await writeFileAtomically(fresh, 'new', 0o644, { undo });
    expect(fs.readFileSync(cfg, 'utf8')).toBe('new');
    killHolder(runs);
    await recoverJournals(runs, noTools);
    expect(fs.readFileSync(cfg, 'utf8')).toBe('old');
    expect(fs.existsSync(fresh)).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual(['runs', 'web1.cfg']);
  });

  it('drops the hidden old copy when the run was killed after its commit', async () => {
    const undo = new UndoStack();
    undo.journal = new RunJournal(runs, 't');
    const disk = path.join(dir, 'disk.img');
    const work = path.join(dir, '.disk.img.new');
    fs.writeFileSync(disk, 'old');
    fs.writeFileSync(work, 'new');
    await moveIntoPlace(work, disk, { undo });
    // Committed, but killed before the after-commit clean-ups ran.
    undo.journal.markCommitted();
    killHolder(runs);
    expect(fs.readdirSync(dir).some((n) => n.includes('.xenkit-old-'))).toBe(true);
    await recoverJournals(runs, noTools);
    expect(fs.readFileSync(disk, 'utf8')).toBe('new');
    expect(fs.readdirSync(dir).sort()).toEqual(['disk.img', 'runs']);
  });

  it('drops the old copy at commit, clean-ups in the order they were registered', async () => {
    const order: string[] = [];
    const undo = new UndoStack();
    undo.afterCommit('release the lock', () => void order.push('lock'));
    const disk = path.join(dir, 'disk.img');
    fs.writeFileSync(disk, 'old');
    fs.writeFileSync(`${disk}.new`, 'new');
    await moveIntoPlace(`${disk}.new`, disk, { undo });
    undo.afterCommit('later clean-up', () => void order.push('later'));
    expect(await undo.commit(silent)).toBe(true);
    expect(order).toEqual(['lock', 'later']);
    expect(fs.readdirSync(dir)).toEqual(['disk.img']);
  });

  it('stops a helper process of a killed run, but never a process that only has its pid', async () => {
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await sleep(50);
      const journal = new RunJournal(runs, 't');
      journal.record('stop sleep', { kind: 'process', ...identifyProcess(child.pid!)! });
      // A recycled pid: same number, another start time.
      journal.record('stop sleep', { kind: 'process', ...identifyProcess(other.pid!)!, startTime: 12345 });
      killHolder(runs);
      const exited = new Promise((resolve) => child.on('exit', resolve));
      const [report] = await recoverJournals(runs, noTools);
      await exited;
      expect(report?.cleaned).toEqual([`stopped sleep (pid ${child.pid})`]);
      expect(other.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });

  it('gives the children of a journaled run its mark, and only while it journals', async () => {
    const journal = new RunJournal(runs, 't');
    const show = async (): Promise<string> =>
      (await runCommand(['sh', '-c', 'echo "${XENKIT_RUN-none}"'])).stdout.trim();
    setActiveJournal(journal);
    try {
      expect(await show()).toBe(journal.runId);
    } finally {
      setActiveJournal(undefined);
    }
    expect(await show()).toBe('none');
    journal.remove();
  });

  it('stops a child a killed run had started but not yet recorded, by its mark, and no other', async () => {
    const journal = new RunJournal(runs, 't');
    setActiveJournal(journal);
    const mark = runMarkerEnv();
    setActiveJournal(undefined);
    // Spawned and then the run killed before trackChild wrote it down: only the mark names it.
    const stray = spawn('sleep', ['60'], { stdio: 'ignore', env: { ...process.env, ...mark } });
    const recorded = spawn('sleep', ['60'], { stdio: 'ignore', env: { ...process.env, ...mark } });
    const otherRun = spawn('sleep', ['60'], { stdio: 'ignore', env: { ...process.env, XENKIT_RUN: '1-2' } });
    try {
      await sleep(50);
      journal.record('stop sleep', { kind: 'process', ...identifyProcess(recorded.pid!)! });
      killHolder(runs);
      const exited = Promise.all(
        [stray, recorded].map((c) => new Promise((resolve) => c.on('exit', resolve))),
      );
      const [report] = await recoverJournals(runs, noTools);
      await exited;
      expect(report?.cleaned).toEqual([
        `stopped sleep (pid ${stray.pid}), started by the run but not yet in its journal`,
        `stopped sleep (pid ${recorded.pid})`,
      ]);
      expect(otherRun.exitCode).toBeNull();
      expect(listJournals(runs)).toEqual([]);
    } finally {
      for (const child of [stray, recorded, otherRun]) child.kill('SIGKILL');
    }
  });

  it('detaches a loop a killed run attached to a file not its own only when it knew the loops there before', async () => {
    const calls: unknown[][] = [];
    const handlers: DebrisHandlers = {
      ...noTools,
      detachLoop: async (...args) => {
        calls.push(args);
        return 'detached /dev/loop7';
      },
    };
    const journal = new RunJournal(runs, 't');
    const image = path.join(dir, 'disk.img');
    journal.record('detach the loop device', { kind: 'loop', backingFile: image });
    journal.record('detach the loop device', { kind: 'loop', backingFile: image, existing: ['/dev/loop3'] });
    killHolder(runs);
    const [report] = await recoverJournals(runs, handlers);
    // Killed between losetup's answer and its record: every loop on it but those already there.
    expect(calls).toEqual([[image, undefined, ['/dev/loop3']]]);
    expect(report?.cleaned).toEqual(['detached /dev/loop7']);
  });

  it('stops a daemon of a killed run whose pidfile is gone by its recorded identity, not by pid alone', async () => {
    const daemon = spawn('sleep', ['60'], { stdio: 'ignore' });
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await sleep(50);
      const journal = new RunJournal(runs, 't');
      const gone = path.join(dir, 'export/qsd.pid');
      journal.record('stop the export', {
        kind: 'daemon',
        pidFile: gone,
        argv0: 'sleep',
        process: identifyProcess(daemon.pid!)!,
      });
      journal.record('stop the export', {
        kind: 'daemon',
        pidFile: gone,
        argv0: 'sleep',
        process: { ...identifyProcess(other.pid!)!, startTime: 12345 },
      });
      killHolder(runs);
      const exited = new Promise((resolve) => daemon.on('exit', resolve));
      const [report] = await recoverJournals(runs, noTools);
      await exited;
      expect(report?.cleaned).toEqual([`stopped sleep (pid ${daemon.pid})`]);
      expect(other.exitCode).toBeNull();
    } finally {
      daemon.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });

  it('puts guest files back last, after the mounts, and not while a mount of the run is left', async () => {
    const done: string[] = [];
    const handlers = (isUnmountLeft: boolean): DebrisHandlers => ({
      ...noTools,
      unmount: async (at) => {
        if (isUnmountLeft) throw new Error('busy');
        done.push(`unmount ${at}`);
        return `unmounted ${at}`;
      },
      restoreGuestFiles: async (debris) => {
        done.push(`restore ${debris.image}`);
        return `put back in ${debris.image}`;
      },
    });
    const files = { kind: 'guest-files' as const, image: '/srv/a.img', format: 'raw', files: [] };
    for (const isUnmountLeft of [true, false]) {
      const journal = new RunJournal(runs, 'update-image a');
      journal.record('unmount', { kind: 'mount', dir: '/m' });
      journal.record('restore', files);
      journal.record('unmount proc', { kind: 'mount', dir: '/m/proc' });
      killHolder(runs);
      const [report] = await recoverJournals(runs, handlers(isUnmountLeft));
      if (isUnmountLeft) {
        expect(report?.left).toEqual([
          'unmount proc: busy',
          'unmount: busy',
          "restore: not put back while the run's mounts are not all gone",
        ]);
        expect(listJournals(runs)[0]?.data.records.map((r) => r.description)).toEqual([
          'unmount proc',
          'unmount',
          'restore',
        ]);
        fs.rmSync(journal.file);
      }
    }
    expect(done).toEqual(['unmount /m/proc', 'unmount /m', 'restore /srv/a.img']);
  });

  it('gives back the address claim of a killed run through the handler', async () => {
    const released: string[] = [];
    const journal = new RunJournal(runs, 'create-image web1');
    journal.record('release address 10.0.0.2', { kind: 'ip-claim', address: '10.0.0.2', name: 'web1' });
    killHolder(runs);
    const [report] = await recoverJournals(runs, {
      ...noTools,
      releaseAddress: async (address, name) => {
        released.push(`${address} ${name}`);
        return `gave back ${address}`;
      },
    });
    expect(released).toEqual(['10.0.0.2 web1']);
    expect(report?.cleaned).toEqual(['gave back 10.0.0.2']);
    expect(listJournals(runs)).toEqual([]);
  });

  it('deletes the remote volumes and the domain a killed remote create made, the domain first', async () => {
    const done: string[] = [];
    const journal = new RunJournal(runs, 'create-image web1');
    const uri = 'qemu+ssh://h1/system';
    journal.record('delete volume web1-disk', {
      kind: 'libvirt-volume',
      uri,
      pool: 'default',
      name: 'web1-disk',
    });
    journal.record('delete volume web1-vmlinuz', {
      kind: 'libvirt-volume',
      uri,
      pool: 'default',
      name: 'web1-vmlinuz',
    });
    journal.record('undefine web1', { kind: 'libvirt-domain', uri, name: 'web1' });
    killHolder(runs);
    const [report] = await recoverJournals(runs, {
      ...noTools,
      removeLibvirtVolume: async (u, pool, name) => {
        done.push(`vol-delete ${u} ${pool} ${name}`);
        return `deleted ${name}`;
      },
      undefineLibvirtDomain: async (u, name) => {
        done.push(`undefine ${u} ${name}`);
        return `undefined ${name}`;
      },
    });
    expect(done).toEqual([
      `undefine ${uri} web1`,
      `vol-delete ${uri} default web1-vmlinuz`,
      `vol-delete ${uri} default web1-disk`,
    ]);
    expect(report?.cleaned).toHaveLength(3);
    expect(listJournals(runs)).toEqual([]);
  });

  it('parses /proc/PID/stat with spaces and parentheses in the command', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i));
    expect(parseProcStat(`42 (a) b (c) S 7 ${fields.slice(5, 40).join(' ')}`)).toEqual({
      ppid: 7,
      startTime: 22,
    });
  });
});
