import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/bin/xenkit.js';
import { captureIo } from '../helpers/capture-io.js';
import { REPO } from '../helpers/cli.js';

const FIXTURES = path.join(REPO, 'test/fixtures/detect');

async function xenkit(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(args, { ...c.io, stdin: Readable.from([]), isTTY: false });
  return { code, out: c.out(), err: c.err() };
}

describe('xenkit detect', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detect-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A copy of a captured tree, changed by `edit` (paths relative to its root). */
  function variant(env: string, edit: Record<string, string | null>): string {
    const root = path.join(dir, env);
    fs.cpSync(path.join(FIXTURES, env), root, { recursive: true });
    for (const [rel, text] of Object.entries(edit)) {
      const file = path.join(root, rel);
      if (text === null) fs.rmSync(file, { force: true });
      else {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
      }
    }
    return root;
  }

  it('prints the verdict, how CPUID was read and every piece of evidence, and exits 0 on a VM', async () => {
    const run = await xenkit(['detect', '--probe-root', path.join(FIXTURES, 'pvm-host')]);
    expect(run.code).toBe(0);
    const lines = run.out.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'virtual: pvm; not in a container',
      'CPUID read through /dev/cpu/0/cpuid',
    ]);
    expect(run.out).toContain('  + [5] cpuid.signature = "KVMKVMKVM"');
    expect(run.out).toContain('  - [2] container.dockerenv = present');
    expect(run.out).toMatch(/ {8}not believed: outweighed by the evidence against a container/);
    expect(run.out).not.toContain('other detectors');
  });

  it('prints the verdict and the evidence as JSON', async () => {
    const run = await xenkit(['detect', '--json', '--probe-root', path.join(FIXTURES, 'qemu-tcg')]);
    expect(run.code).toBe(0);
    const json = JSON.parse(run.out) as Record<string, unknown> & {
      evidence: { name: string; believed: boolean }[];
    };
    expect(json).toMatchObject({
      ok: true,
      virtual: true,
      hypervisor: 'qemu-tcg',
      container: null,
      xenRole: null,
    });
    expect(json.evidence.find((e) => e.name === 'dmi.sys_vendor')).toMatchObject({
      value: 'QEMU',
      believed: true,
      weight: 3,
    });
  });

  it('exits 1 and prints nothing with --quiet on a machine with no evidence of a hypervisor', async () => {
    const root = variant('qemu-tcg', {
      'dev/cpu/0/cpuid': '00000001: 00060fb1 00000800 7ed8320b 0fcbfbfd\n',
      'sys/class/dmi/id/sys_vendor': 'Dell Inc.\n',
      'sys/class/dmi/id/product_name': 'PowerEdge R640\n',
      'sys/class/dmi/id/bios_vendor': 'Dell Inc.\n',
      'sys/bus/virtio/devices/virtio0/device': null,
      'sys/bus/virtio/devices/virtio1/device': null,
      '.dockerenv': null,
    });
    fs.rmSync(path.join(root, 'sys/bus/virtio'), { recursive: true });
    const quiet = await xenkit(['detect', '--quiet', '--probe-root', root]);
    expect(quiet).toEqual({ code: 1, out: '', err: '' });
    const text = await xenkit(['detect', '--probe-root', root]);
    expect(text.out.split('\n')[0]).toBe('not virtual (bare metal); not in a container');
  });

  it('believes a container where PID 2 is no kernel thread and PID 1 is a container init', async () => {
    const root = variant('pvm-host', {
      'proc/2/stat': '2 (sh) S 1 2 2 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 9\n',
      'proc/1/comm': 'docker-init\n',
      'proc/1/cmdline': '/sbin/docker-init\0--\0sh\0',
      'proc/1/environ': 'PATH=/bin\0HOSTNAME=abc\0',
    });
    const run = await xenkit(['detect', '--json', '--probe-root', root]);
    expect(JSON.parse(run.out)).toMatchObject({ virtual: true, hypervisor: 'pvm', container: 'docker' });
    expect(run.code).toBe(0);
  });

  it('names the container from container= of PID 1', async () => {
    const root = variant('pvm-host', {
      'proc/2/stat': null,
      'proc/1/environ': 'container=podman\0',
      'run/.containerenv': '',
      '.dockerenv': null,
    });
    const run = await xenkit(['detect', '--json', '--probe-root', root]);
    expect(JSON.parse(run.out)).toMatchObject({ container: 'podman' });
  });

  it.each([
    [['detect', '--json', '--quiet'], /--json and --quiet ask for opposite things/],
    [
      ['detect', '--probe-root', '/nonexistent/tree'],
      /--probe-root "\/nonexistent\/tree" is not a directory/,
    ],
  ])('refuses %j with exit 2 and a hint', async (args, message) => {
    const run = await xenkit(args);
    // With --json the error itself is JSON on stdout, as for every command.
    expect(run.code).toBe(2);
    expect(run.out + run.err).toMatch(message);
    expect(run.out + run.err).toMatch(/"hint": |hint: /);
    expect(run.out).not.toMatch(/evidence/);
  });

  it('explains itself in --help', async () => {
    const run = await xenkit(['detect', '--help']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/Exit status as systemd-detect-virt/);
    expect(run.out).toContain('--probe-root <dir>');
  });
});
