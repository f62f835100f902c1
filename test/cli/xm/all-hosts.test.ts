import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runtimeError } from '../../../src/errors.js';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-all-hosts-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function hostsFile(text: string): void {
  fs.mkdirSync(path.join(root, 'etc/xenkit'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/xenkit/hosts'), text);
}

/** One fake driver per URI; `qemu+tcp://down/system` does not answer. */
function perUri() {
  const asked: string[] = [];
  return {
    asked,
    createDriver: (_kind: unknown, _paths: unknown, _sink: unknown, uri?: string) => {
      asked.push(uri ?? '');
      if (uri === 'qemu+tcp://down/system') {
        throw runtimeError(
          'E_LIBVIRT_CONNECT',
          'cannot reach libvirt at qemu+tcp://down/system: Connection refused',
        );
      }
      const driver = new FakeDriver();
      driver.domains.push(makeDomain({ name: uri === 'qemu:///system' ? 'web1' : 'db1', id: 3 }));
      return driver;
    },
  };
}

describe('xm list --all-hosts', () => {
  it('lists the guests of every host with a Host column; a host that does not answer says so', async () => {
    hostsFile('local qemu:///system\ndown qemu+tcp://down/system\nnode2 qemu+ssh://node2/system\n');
    const deps = perUri();
    const result = await runXm(new FakeDriver(), root, ['list', '--all-hosts'], deps);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Host {3}Name +ID +Mem VCPUs +State +Time\(s\)$/);
    expect(lines.filter((l) => l.startsWith('local ')).map((l) => l.split(/\s+/)[1])).toEqual([
      'Domain-0',
      'web1',
    ]);
    expect(lines).toContain(
      'down   (not answering: cannot reach libvirt at qemu+tcp://down/system: Connection refused)',
    );
    expect(lines.filter((l) => l.startsWith('node2 ')).map((l) => l.split(/\s+/)[1])).toEqual([
      'Domain-0',
      'db1',
    ]);
    expect(deps.asked.sort()).toEqual([
      'qemu+ssh://node2/system',
      'qemu+tcp://down/system',
      'qemu:///system',
    ]);
  });

  it('gives each host its guests or its error in JSON', async () => {
    hostsFile('local qemu:///system\ndown qemu+tcp://down/system\n');
    const result = await runXm(new FakeDriver(), root, ['list', '--all-hosts', '--json'], perUri());
    expect(JSON.parse(result.stdout)).toMatchObject([
      { host: 'local', uri: 'qemu:///system', ok: true, domains: [{ name: 'web1', id: 3 }] },
      { host: 'down', ok: false, error: expect.stringContaining('Connection refused') },
    ]);
  });

  it('says so when no host is configured (exit 2)', async () => {
    const result = await runXm(new FakeDriver(), root, ['list', '--all-hosts'], perUri());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`no hosts in ${path.join(root, 'etc/xenkit/hosts')}`);
  });
});
