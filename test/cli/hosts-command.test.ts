import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/bin/xenkit.js';
import { parseHostsFile, renderHostsFile } from '../../src/config/hosts-file.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-hosts-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

async function xenkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(
    ['hosts', ...args],
    { stdout, stderr, stdin: new PassThrough(), isTTY: false },
    {
      env: { XENKIT_ROOT: root },
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out, stderr: err };
}

const hostsFile = (): string => path.join(root, 'etc/xenkit/hosts');

describe('xenkit hosts', () => {
  it('adds, lists and removes hosts in /etc/xenkit/hosts under the root', async () => {
    expect((await xenkit('add', 'local', 'qemu:///system')).code).toBe(0);
    expect((await xenkit('add', 'node2', 'qemu+ssh://root@node2/system')).code).toBe(0);
    expect(fs.readFileSync(hostsFile(), 'utf8')).toContain(
      'local qemu:///system\nnode2 qemu+ssh://root@node2/system\n',
    );
    const listed = await xenkit('list');
    expect(listed.stdout).toBe('Host   URI\nlocal  qemu:///system\nnode2  qemu+ssh://root@node2/system\n');
    expect(JSON.parse((await xenkit('list', '--json')).stdout)).toEqual([
      { name: 'local', uri: 'qemu:///system' },
      { name: 'node2', uri: 'qemu+ssh://root@node2/system' },
    ]);
    expect((await xenkit('remove', 'local')).stdout).toBe('Removed host local (qemu:///system)\n');
    expect(parseHostsFile(fs.readFileSync(hostsFile(), 'utf8'), hostsFile())).toEqual([
      { name: 'node2', uri: 'qemu+ssh://root@node2/system' },
    ]);
    // Written whole through a temporary file: none is left beside it.
    expect(fs.readdirSync(path.dirname(hostsFile()))).toEqual(['hosts']);
  });

  it('writes nothing with --dry-run', async () => {
    const result = await xenkit('add', 'node2', 'qemu:///system', '--dry-run');
    expect(result.stdout).toContain('Would add host node2');
    expect(fs.existsSync(hostsFile())).toBe(false);
  });

  it.each([
    [['add', 'a/b', 'qemu:///system'], 'host name "a/b" is not a name'],
    [['add', 'node2', 'node2'], '"node2" is not a libvirt URI'],
    [['remove', 'nosuch'], 'no host "nosuch" in'],
  ])('refuses %j with exit 2 and one line naming it', async (args, message) => {
    const result = await xenkit(...args);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toContain(message);
    expect(fs.existsSync(hostsFile())).toBe(false);
  });

  it('refuses a name in use (exit 2) and keeps the file as it was', async () => {
    await xenkit('add', 'node2', 'qemu:///system');
    const before = fs.readFileSync(hostsFile(), 'utf8');
    const result = await xenkit('add', 'node2', 'qemu+ssh://node2/system');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('host "node2" exists already (qemu:///system)');
    expect(fs.readFileSync(hostsFile(), 'utf8')).toBe(before);
  });

  it('reads back what it renders, and names the line of a malformed one', () => {
    const hosts = [
      { name: 'a', uri: 'qemu:///system' },
      { name: 'b.example', uri: 'qemu+tls://b.example/system' },
    ];
    expect(parseHostsFile(renderHostsFile(hosts), 'h')).toEqual(hosts);
    expect(() => parseHostsFile('a qemu:///system\nb\n', '/etc/xenkit/hosts')).toThrow(
      '/etc/xenkit/hosts:2: "b" is not "NAME URI"',
    );
  });
});
