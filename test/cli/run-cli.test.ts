import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { runCommand } from '../../src/tools/exec.js';
import { REPO } from '../helpers/cli.js';
import { runtimeError, XenkitError } from '../../src/errors.js';
import { captureIo } from '../helpers/capture-io.js';

const errno = (code: string, message: string): Error => Object.assign(new Error(message), { code });

afterEach(() => {
  delete process.env.XENKIT_DEBUG;
});

describe('runCli', () => {
  it.each([
    [
      errno('ENAMETOOLONG', "ENAMETOOLONG: name too long, mkdir '/srv/x'"),
      /^xenkit: error: ENAMETOOLONG: name too long, mkdir '\/srv\/x'$/,
    ],
    [
      errno('EACCES', "EACCES: permission denied, open '/etc/x'"),
      /^xenkit: error: EACCES: permission denied/,
    ],
    [
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      /^xenkit: internal error: Cannot read properties/,
    ],
  ])('prints an unexpected error as one line and a hint, exit 1, no stack: %s', async (error, first) => {
    const { io, err } = captureIo();
    const code = await runCli('xenkit', () => Promise.reject(error), { io });
    expect(code).toBe(1);
    const lines = err().trimEnd().split('\n');
    expect(lines[0]).toMatch(first);
    expect(lines[1]).toMatch(/^ {2}hint: .*XENKIT_DEBUG=1/);
    expect(lines).toHaveLength(2);
    expect(err()).not.toMatch(/^\s+at /m);
  });

  it('prints the stack trace with XENKIT_DEBUG set', async () => {
    process.env.XENKIT_DEBUG = '1';
    const { io, err } = captureIo();
    const error = errno('ENOENT', 'ENOENT: no such file');
    const code = await runCli(
      'xenkit',
      () => Promise.reject(runtimeError('E_XL', 'wrapped', undefined, error)),
      {
        io,
      },
    );
    expect(code).toBe(1);
    expect(err()).toMatch(/^xenkit: error: wrapped$/m);
    expect(err()).toMatch(/^\s+at /m);
  });

  it('reports a full disk outside any step as E_NO_SPACE', async () => {
    const { io, err } = captureIo();
    const error = Object.assign(errno('ENOSPC', 'ENOSPC: no space left on device, write'), {
      path: '/var/log/x',
    });
    expect(await runCli('xenkit', () => Promise.reject(error), { io })).toBe(1);
    expect(err()).toMatch(/^xenkit: error: no space left on \/var\/log\/x\n {2}hint: free some space/);
  });

  it('makes control characters in a message visible instead of printing them', async () => {
    const { io, err } = captureIo();
    const error = runtimeError('E_XL', 'guest "a\nb\u001b[2J"', 'hint\rx');
    await runCli('xenkit', () => Promise.reject(error), { io });
    expect(err()).toBe('xenkit: error: guest "a\\nb\\x1b[2J"\n  hint: hint\\rx\n');
  });

  it("keeps the lines of a failed tool's output but not its escape sequences", async () => {
    const { io, err } = captureIo();
    const error = new XenkitError('E_EXEC', 'mkfs failed', { details: 'line 1\n\u001b[31mline 2\u001b[0m' });
    await runCli('xenkit', () => Promise.reject(error), { io });
    expect(err()).toBe('xenkit: error: mkfs failed\n  line 1\n  \\x1b[31mline 2\\x1b[0m\n');
  });

  it('writes unexpected errors as JSON with one-line messages', async () => {
    const { io, out } = captureIo();
    await runCli('xenkit', () => Promise.reject(errno('EIO', 'EIO: i/o error, read')), {
      io,
      wantsJson: () => true,
    });
    expect(JSON.parse(out())).toMatchObject({
      ok: false,
      error: { code: 'E_SYSTEM', message: 'EIO: i/o error, read' },
    });
  });
});

describe('output to a reader that goes away', () => {
  it('drops the rest of the listing without a stack trace when `| head` closes the pipe', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'xenkit-epipe-'));
    try {
      mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
      // Far more than a pipe buffer (64 KiB) of listing, so writes after `head` exits do fail.
      for (let i = 0; i < 600; i += 1) {
        const name = `g${String(i).padStart(4, '0')}`;
        writeFileSync(
          path.join(root, 'etc/xen', `${name}.cfg`),
          `name = '${name}'\nmemory = 256\ndisk = [ 'file:/srv/domains/${name}/disk.img,xvda2,w' ]\nvif = [ 'mac=00:16:3E:00:00:01' ]\n`,
        );
      }
      const result = await runCommand(
        [
          'bash',
          '-c',
          `${process.execPath} ${REPO}/bin/xen-list-images.js --root ${root} 2>"$1" | head -n 2; echo "exit=\${PIPESTATUS[0]}" >>"$1"`,
          'sh',
          path.join(root, 'stderr'),
        ],
        { timeoutMs: 60_000 },
      );
      expect(result.stdout).toBe('Name: g0000\nMemory: 256 MB\n');
      const stderr = readFileSync(path.join(root, 'stderr'), 'utf8');
      expect(stderr).not.toMatch(/EPIPE|at .*\(node:/);
      expect(stderr.trim().split('\n').at(-1)).toBe('exit=0');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});
