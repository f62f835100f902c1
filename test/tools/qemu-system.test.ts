import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tcgCpuModel } from '../../src/hypervisors/qemu/argv.js';
import { hasCommand, runCommand } from '../../src/tools/exec.js';
import { monitorProbeArgv, parseCpuFlagNames, readQemuCpuFlags } from '../../src/tools/qemu-system.js';

const haveQemu = await hasCommand('qemu-system-x86_64');

const fixture = (name: string): string =>
  readFileSync(path.join(import.meta.dirname, 'fixtures/qemu', name), 'utf8');

describe('parseCpuFlagNames', () => {
  it("reads the flag list of QEMU 7.2's and 10.0's -cpu help, not the models above it", () => {
    const old = parseCpuFlagNames(fixture('cpu-help-7.2.txt'));
    const newer = parseCpuFlagNames(fixture('cpu-help-10.0.txt'));
    expect(old.has('erms')).toBe(true);
    expect(old.has('fsrm')).toBe(true);
    expect(old.has('fsrs')).toBe(false);
    expect(old.has('Skylake-Client')).toBe(false);
    expect(old.size).toBeGreaterThan(150);
    expect(['erms', 'fsrm', 'fsrs', 'fzrm', 'fsrc'].every((f) => newer.has(f))).toBe(true);
  });

  it('gives no flags for text without the list', () => {
    expect(parseCpuFlagNames('Available CPUs:\n  x86 max\n').size).toBe(0);
  });
});

describe('tcgCpuModel', () => {
  it('turns off each fast-string flag the QEMU knows, and the virtualization extensions for a loaded kernel', () => {
    const old = parseCpuFlagNames(fixture('cpu-help-7.2.txt'));
    const newer = parseCpuFlagNames(fixture('cpu-help-10.0.txt'));
    expect(tcgCpuModel(true, old)).toBe('max,svm=off,vmx=off,erms=off,fsrm=off');
    expect(tcgCpuModel(false, old)).toBe('max,erms=off,fsrm=off');
    expect(tcgCpuModel(true, newer)).toBe('max,svm=off,vmx=off,erms=off,fsrm=off,fsrs=off,fzrm=off,fsrc=off');
    expect(tcgCpuModel(false)).toBe('max,erms=off');
  });
});

describe('readQemuCpuFlags', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-cpu-flags-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('asks the binary once and remembers its answer until the binary changes', async () => {
    const fake = path.join(dir, 'qemu');
    const calls = path.join(dir, 'calls');
    writeFileSync(
      fake,
      `#!/bin/sh\necho run >> ${calls}\nprintf 'Recognized CPUID flags:\\n  erms fsrm\\n'\n`,
    );
    chmodSync(fake, 0o755);
    const memo = path.join(dir, 'memo', 'flags.json');
    expect([...((await readQemuCpuFlags(fake, memo)) ?? [])]).toEqual(['erms', 'fsrm']);
    expect([...((await readQemuCpuFlags(fake, memo)) ?? [])]).toEqual(['erms', 'fsrm']);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(1);
    writeFileSync(fake, `#!/bin/sh\nprintf 'Recognized CPUID flags:\\n  erms fsrm fsrs\\n'\n`);
    expect((await readQemuCpuFlags(fake, memo))?.has('fsrs')).toBe(true);
  });

  it('remembers nothing from a binary that fails or lists no flags', async () => {
    const fake = path.join(dir, 'qemu');
    writeFileSync(fake, '#!/bin/sh\necho broken >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const memo = path.join(dir, 'flags.json');
    expect(await readQemuCpuFlags(fake, memo)).toBeUndefined();
    expect(existsSync(memo)).toBe(false);
    expect(await readQemuCpuFlags(path.join(dir, 'absent'), memo)).toBeUndefined();
  });

  it.skipIf(!haveQemu)(
    "reads the installed qemu-system-x86_64's flags, and QEMU accepts the model made from them",
    async () => {
      const flags = await readQemuCpuFlags('qemu-system-x86_64', path.join(dir, 'flags.json'));
      expect(flags?.has('erms')).toBe(true);
      const model = tcgCpuModel(true, flags);
      const result = await runCommand(monitorProbeArgv('tcg', { machine: 'q35', extra: ['-cpu', model] }), {
        input: 'quit\n',
        allowFailure: true,
        timeoutMs: 20_000,
      });
      expect(result.exitCode, result.stderr).toBe(0);
    },
  );
});
