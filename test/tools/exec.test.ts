import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, spawnDetached, spawnTied } from '../../src/tools/exec.js';
import { XenkitError } from '../../src/errors.js';
import type { LogEvent } from '../../src/log/events.js';
import { REPO } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-exec-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('runCommand', () => {
  it('runs argv without a shell and logs an exec event', async () => {
    const events: LogEvent[] = [];
    const result = await runCommand(['printf', '%s|', 'a b', '$HOME', ';rm'], {
      sink: (e) => events.push(e),
    });
    expect(result.stdout).toBe('a b|$HOME|;rm|');
    expect(events[0]).toMatchObject({
      type: 'exec',
      argv: ['printf', '%s|', 'a b', '$HOME', ';rm'],
      exitCode: 0,
    });
  });

  it('passes secrets on stdin only: not in argv, not in the environment', async () => {
    const script = path.join(tmp, 'show.sh');
    fs.writeFileSync(script, '#!/bin/sh\nread secret\necho "got:$secret"\nenv\necho "argv:$*"\n', {
      mode: 0o755,
    });
    const result = await runCommand([script], { input: 'hunter2\n' });
    expect(result.stdout).toContain('got:hunter2');
    expect(result.stdout.replace('got:hunter2', '')).not.toContain('hunter2');
  });

  it('gives a child open files as stdin (from their offset) and stdout, capturing neither', async () => {
    const source = path.join(tmp, 'source');
    const target = path.join(tmp, 'target');
    fs.writeFileSync(source, 'skipped|kept\n');
    const input = fs.openSync(source, 'r');
    const output = fs.openSync(target, 'w');
    try {
      fs.readSync(input, Buffer.alloc(8), 0, 8, null);
      const result = await runCommand(['cat'], { stdinFd: input, stdoutFd: output });
      expect(result.stdout).toBe('');
    } finally {
      fs.closeSync(input);
      fs.closeSync(output);
    }
    expect(fs.readFileSync(target, 'utf8')).toBe('kept\n');
  });

  it('starts children from a minimal environment, not ours', async () => {
    process.env.XENKIT_TEST_LEAK = 'leaked';
    const result = await runCommand(['env']);
    delete process.env.XENKIT_TEST_LEAK;
    expect(result.stdout).not.toContain('XENKIT_TEST_LEAK');
    expect(result.stdout).toContain('PATH=');
  });

  it('says what ran, how it ended and the tail of its output when it fails', async () => {
    const error = await runCommand(['sh', '-c', 'echo first >&2; echo disk full >&2; exit 3']).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(XenkitError);
    expect(error.code).toBe('E_EXEC');
    expect(error.message).toBe('sh exited with status 3: disk full');
    expect(error.details).toContain("command: sh -c 'echo first");
  });

  it('names a missing program with an install hint', async () => {
    const error = await runCommand(['xenkit-no-such-tool']).catch((e) => e);
    expect(error.code).toBe('E_TOOL_MISSING');
    expect(error.hint).toContain('apt-get install');
  });

  it('kills the child when cancelled', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = runCommand(['sleep', '30'], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('SIGINT')), 100);
    const error = await pending.catch((e) => e);
    expect(error.code).toBe('E_CANCELLED');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('returns soon after a cancel even when a descendant keeps its output pipe open', async () => {
    // The shell is killed; its background sleep holds stdout and would hold the run for 30 s.
    const pidFile = path.join(tmp, 'descendant.pid');
    const controller = new AbortController();
    const started = Date.now();
    const pending = runCommand(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('SIGINT')), 300);
    const error = await pending.catch((e) => e);
    const descendant = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      expect(error.code).toBe('E_CANCELLED');
      expect(Date.now() - started).toBeLessThan(5000);
      // It was still there: the run did not wait for it.
      expect(() => process.kill(descendant, 0)).not.toThrow();
    } finally {
      process.kill(descendant, 'SIGKILL');
    }
  });

  it('kills the child on timeout', async () => {
    const error = await runCommand(['sleep', '30'], { timeoutMs: 200 }).catch((e) => e);
    expect(error.message).toContain('timed out');
  });

  it('does not start a child when cancelled already', async () => {
    const controller = new AbortController();
    controller.abort(new Error('SIGINT'));
    const marker = path.join(tmp, 'ran');
    const error = await runCommand(['touch', marker], { signal: controller.signal }).catch((e) => e);
    expect(error.code).toBe('E_CANCELLED');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('says why a program could not be started', async () => {
    const script = path.join(tmp, 'not-executable.sh');
    fs.writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const error = await runCommand([script]).catch((e) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect(error.code).toBe('E_EXEC');
    expect(error.message).toContain('could not be started');
    expect(error.message).toContain('EACCES');
  });

  it('takes input the child never reads without failing', async () => {
    const result = await runCommand(['true'], { input: Buffer.alloc(1024 * 1024, 120) });
    expect(result.exitCode).toBe(0);
  });

  it('passes each line to onLine while capturing the whole output', async () => {
    const lines: string[] = [];
    const result = await runCommand(['sh', '-c', 'printf "a\\nb\\r\\n"; printf "c" >&2'], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(result.stdout).toBe('a\nb\r\n');
    expect(lines).toEqual(expect.arrayContaining(['stdout:a', 'stdout:b', 'stderr:c']));
  });

  it('returns a failed result when failure is allowed', async () => {
    const result = await runCommand(['false'], { allowFailure: true });
    expect(result.exitCode).toBe(1);
  });
});

describe('runCommand with binary output', () => {
  it('returns the bytes as latin1 text', async () => {
    const result = await runCommand(['printf', '\\001\\377A'], { binary: true });
    expect([...Buffer.from(result.stdout, 'latin1')]).toEqual([1, 255, 65]);
  });
});

describe('runCommand with captureTail', () => {
  const script =
    'for i in $(seq 1 20000); do echo "out $i"; echo "err $i" >&2; done; echo "disk full" >&2; exit 4';

  it('streams every line to onLine and the sink, and keeps only a tail of each stream', async () => {
    const events: LogEvent[] = [];
    const seen: string[] = [];
    const result = await runCommand(['sh', '-c', script.replace('; exit 4', '')], {
      captureTail: 200,
      sink: (e) => events.push(e),
      onLine: (line, stream) => seen.push(`${stream}:${line}`),
    });
    expect(seen.filter((l) => l.startsWith('stdout:'))).toHaveLength(20_000);
    expect(seen).toContain('stderr:err 20000');
    const output = events.filter((e) => e.type === 'output');
    expect(output).toHaveLength(40_001);
    expect(output[0]).toMatchObject({ type: 'output', command: 'sh', stream: 'stdout', line: 'out 1' });
    expect(result.stdout.length).toBeLessThanOrEqual(200);
    expect(result.stdout.endsWith('out 20000\n')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'exec', exitCode: 0, streamed: true });
  });

  it('still says how the program ended and quotes the last line of the tail', async () => {
    const error = await runCommand(['sh', '-c', script], { captureTail: 1000 }).catch((e) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect(error.message).toBe('sh exited with status 4: disk full');
    expect(error.details).toContain('err 20000');
  });

  it('returns a failed result with allowFailure', async () => {
    const result = await runCommand(['sh', '-c', 'echo half; exit 2'], {
      captureTail: 10,
      allowFailure: true,
    });
    expect(result).toMatchObject({ exitCode: 2, stdout: 'half\n', stderr: '' });
  });
});

describe('spawnDetached', () => {
  it('starts the child in its own session with the base environment and returns its pid', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detached-'));
    const out = path.join(dir, 'out');
    process.env.XENKIT_SECRET_PROBE = 'leak';
    try {
      const pid = spawnDetached([
        'sh',
        '-c',
        `echo "$$ $(ps -o sid= -p $$) \${XENKIT_SECRET_PROBE:-none}" > ${out}.tmp && mv ${out}.tmp ${out}`,
      ]);
      expect(pid).toBeGreaterThan(0);
      for (let i = 0; i < 100 && !fs.existsSync(out); i++) await new Promise((r) => setTimeout(r, 50));
      const [childPid, sid, secret] = fs.readFileSync(out, 'utf8').trim().split(/\s+/);
      expect(Number(childPid)).toBe(pid);
      expect(Number(sid)).toBe(pid);
      expect(secret).toBe('none');
    } finally {
      delete process.env.XENKIT_SECRET_PROBE;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('returns undefined for a program that does not exist', () => {
    expect(spawnDetached(['/nonexistent/xenkit-no-such-program'])).toBeUndefined();
  });
});

describe('spawnTied', () => {
  /** Whether `pid` runs (a zombie waiting for its reaper counts as gone). */
  const isRunning = (pid: number): boolean => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  };
  const until = async (isDone: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!isDone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };

  it('starts a server that the kernel stops when its parent dies, even by SIGKILL', async () => {
    const script = path.join(tmp, 'tied-parent.mjs');
    await build({
      stdin: {
        contents: `import { spawnTied } from './src/tools/exec.ts';
          const child = spawnTied(['sleep', '60'], { logFile: process.argv[2] });
          console.log(child.pid);
          setInterval(() => undefined, 1000);`,
        resolveDir: REPO,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
    });
    const parent = spawn(process.execPath, [script, path.join(tmp, 'tied.log')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = Number(
      await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d)))),
    );
    try {
      // setpriv has set the death signal and exec'd the program.
      await until(() => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep');
      expect(isRunning(pid)).toBe(true);
      parent.kill('SIGKILL');
      await until(() => !isRunning(pid));
      expect(isRunning(pid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('says how a server that could not start ended', async () => {
    const child = spawnTied(['false'], { logFile: path.join(tmp, 'false.log') });
    const deadline = Date.now() + 10_000;
    while (!child.hasExited() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(child.ending()).toBe('exited with status 1');
  });
});
