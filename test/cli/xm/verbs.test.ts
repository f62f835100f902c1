/** The xm verbs over a running domain's devices and limits, and rename, against the fake driver. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderTop, topRows } from '../../../src/cli/xm/top.js';
import { renderVcpuList } from '../../../src/cli/xm/vcpu-pin.js';
import type {
  BlockDevice,
  HypervisorDriver,
  NetworkDevice,
  VcpuInfo,
} from '../../../src/hypervisors/driver.js';
import type { DiskConfig, VifConfig } from '../../../src/model/domain-config.js';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

/** The fake with the optional verbs. */
class VerbDriver extends FakeDriver implements HypervisorDriver {
  disks: BlockDevice[] = [];
  renameFails = false;
  async blockAttach(name: string, disk: DiskConfig): Promise<void> {
    this.calls.push({ method: 'blockAttach', args: [name, disk] });
  }
  async blockDetach(name: string, vdev: string): Promise<void> {
    this.calls.push({ method: 'blockDetach', args: [name, vdev] });
  }
  async blockList(): Promise<BlockDevice[]> {
    return this.disks;
  }
  async networkAttach(name: string, vif: VifConfig): Promise<NetworkDevice> {
    this.calls.push({ method: 'networkAttach', args: [name, vif] });
    return {
      devid: 1,
      mac: vif.mac ?? '00:16:3e:00:00:99',
      bridge: vif.bridge,
      model: undefined,
      hotplugged: true,
      details: {},
    };
  }
  async networkDetach(name: string, which: number | string): Promise<void> {
    this.calls.push({ method: 'networkDetach', args: [name, which] });
  }
  async vcpuList(): Promise<VcpuInfo[]> {
    return [
      { vcpu: 0, cpu: 1, running: true, blocked: false, online: true, timeSec: 12.34, affinity: 'all' },
    ];
  }
  async vcpuPin(name: string, vcpu: number | 'all', cpus: string): Promise<void> {
    this.calls.push({ method: 'vcpuPin', args: [name, vcpu, cpus] });
  }
  async setMaxMemory(name: string, bytes: number): Promise<void> {
    this.calls.push({ method: 'setMaxMemory', args: [name, bytes] });
  }
  async dmesg(options: { name?: string; clear?: boolean }): Promise<string> {
    this.calls.push({ method: 'dmesg', args: [options] });
    return 'XENKIT-GUEST-UP\n';
  }
  async rename(name: string, newName: string, options?: { cfgPath?: string }): Promise<void> {
    this.calls.push({ method: 'rename', args: [name, newName, options] });
    if (this.renameFails) throw new Error('rename: simulated failure');
    const domain = this.domains.find((d) => d.name === name);
    if (domain) domain.name = newName;
  }
}

let root: string;
let driver: VerbDriver;
const xenDir = (): string => path.join(root, 'etc/xen');

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-verbs-'));
  driver = new VerbDriver();
  driver.domains = [
    makeDomain({ name: 'web', id: 4, vcpus: 2, maxVcpus: 2, memoryMiB: 256, maxMemoryMiB: 512 }),
  ];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('a driver without the verbs', () => {
  it.each([
    [['block-attach', 'web', 'vdev=xvdb,target=/x.img'], 'block-attach'],
    [['block-detach', 'web', 'xvdb'], 'block-detach'],
    [['block-list', 'web'], 'block-list'],
    [['network-attach', 'web'], 'network-attach'],
    [['network-detach', 'web', '1'], 'network-detach'],
    [['network-list', 'web'], 'network-list'],
    [['vcpu-list', 'web'], 'vcpu-list'],
    [['vcpu-pin', 'web', '0', '1'], 'vcpu-pin'],
    [['mem-max', 'web', '256M'], 'mem-max'],
    [['dmesg'], 'dmesg'],
    [['sysrq', 'web', 'h'], 'sysrq'],
  ])('refuses %j with exit 2, naming the verb and the driver', async (args, verb) => {
    const plain = new FakeDriver();
    plain.domains = driver.domains;
    const run = await runXm(plain, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${verb} is not supported under the qemu driver`);
  });
});

describe('xm block- and network- verbs', () => {
  it('reads the disk spec as xl does and hands the disk to the driver', async () => {
    const run = await runXm(driver, root, ['block-attach', 'web', 'file:/srv/data.img,xvdb,r']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Attached /srv/data.img to domain web (id=4) as xvdb\n');
    expect(driver.calls[0]?.args[1]).toMatchObject({ target: '/srv/data.img', vdev: 'xvdb', access: 'ro' });
  });

  it('refuses a bad disk spec before asking the driver', async () => {
    const run = await runXm(driver, root, ['block-attach', 'web', 'format=raw,target=/srv/data.img']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no vdev (guest device name)');
    expect(driver.calls).toEqual([]);
  });

  it('lists disks as a table, and as JSON', async () => {
    driver.disks = [
      {
        vdev: 'xvda2',
        target: '/srv/web.img',
        format: 'raw',
        access: 'rw',
        isCdrom: false,
        hotplugged: false,
        details: {},
      },
      {
        vdev: 'xvdb',
        target: '/srv/data.img',
        format: 'qcow2',
        access: 'ro',
        isCdrom: false,
        hotplugged: true,
        details: {},
      },
    ];
    const run = await runXm(driver, root, ['block-list', 'web']);
    expect(run.stdout).toBe(
      'Vdev   Format  Access  Hotplug  Target\n' +
        'xvda2  raw     rw      no       /srv/web.img\n' +
        'xvdb   qcow2   ro      yes      /srv/data.img\n',
    );
    expect(JSON.parse((await runXm(driver, root, ['block-list', 'web', '--json'])).stdout)).toEqual(
      driver.disks,
    );
  });

  it('passes the vif pairs on, with the MAC normalized', async () => {
    const run = await runXm(driver, root, [
      'network-attach',
      'web',
      'bridge=xenbr0',
      'mac=00-16-3e-aa-bb-cc',
    ]);
    expect(run.code).toBe(0);
    expect(driver.calls[0]?.args[1]).toMatchObject({ bridge: 'xenbr0', mac: '00:16:3E:AA:BB:CC' });
    expect(run.stdout).toBe('Attached NIC 1 (00:16:3E:AA:BB:CC) to domain web (id=4)\n');
  });

  it.each([
    [['network-attach', 'web', 'mac=01:00:5e:00:00:01'], 'multicast'],
    [['network-attach', 'web', 'xenbr0'], 'is not KEY=VALUE'],
    [['network-detach', 'web', 'eth0'], 'is not a MAC address'],
  ])('refuses %j', async (args, message) => {
    const run = await runXm(driver, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(driver.calls).toEqual([]);
  });

  it('detaches a NIC by device ID or by MAC', async () => {
    await runXm(driver, root, ['network-detach', 'web', '2']);
    await runXm(driver, root, ['network-detach', 'web', '00:16:3e:aa:bb:cc']);
    expect(driver.calls.map((c) => c.args[1])).toEqual([2, '00:16:3E:AA:BB:CC']);
  });

  it('says that hot-plugged devices do not persist into the cfg, in --help', async () => {
    for (const verb of ['block-attach', 'block-detach', 'network-attach', 'network-detach']) {
      const run = await runXm(driver, root, [verb, '--help']);
      expect(run.stdout.replace(/\s+/g, ' ')).toContain("not written into the domain's cfg");
    }
  });

  it('refuses a domain that is not running', async () => {
    const run = await runXm(driver, root, ['block-list', 'db']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no domain "db" is running');
  });
});

describe('xm vcpu-list, vcpu-pin, mem-max, dmesg', () => {
  it("prints xl vcpu-list's table", async () => {
    const run = await runXm(driver, root, ['vcpu-list', 'web']);
    expect(run.stdout).toBe(renderVcpuList('web', 4, await driver.vcpuList()));
    expect(run.stdout.split('\n')[1]).toMatch(/^web\s+4\s+0\s+1\s+r--\s+12\.3\s+all$/);
  });

  it.each([
    [['0', '1'], 0, '1'],
    [['all', '0-1'], 'all', '0-1'],
  ])('pins %j', async (args, vcpu, cpus) => {
    const run = await runXm(driver, root, ['vcpu-pin', 'web', ...args]);
    expect(run.code).toBe(0);
    expect(driver.calls).toEqual([{ method: 'vcpuPin', args: ['web', vcpu, cpus] }]);
  });

  it.each([
    [['x', '1'], 'vCPU "x" is not a vCPU number or all'],
    [['0', '1-'], 'CPU list "1-" is not a CPU list'],
  ])('refuses vcpu-pin %j', async (args, message) => {
    const run = await runXm(driver, root, ['vcpu-pin', 'web', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('sets the maximum memory in bytes', async () => {
    const run = await runXm(driver, root, ['mem-max', 'web', '1G']);
    expect(run.stdout).toBe('Domain web: maximum memory 1024 MiB (was 512 MiB)\n');
    expect(driver.calls).toEqual([{ method: 'setMaxMemory', args: ['web', 1024 * 1024 * 1024] }]);
  });

  it("prints a guest's log, and passes -c on", async () => {
    const run = await runXm(driver, root, ['dmesg', 'web', '-c']);
    expect(run.stdout).toBe('XENKIT-GUEST-UP\n');
    expect(driver.calls).toEqual([{ method: 'dmesg', args: [{ name: 'web', clear: true }] }]);
  });
});

describe('xm top', () => {
  const host = {
    driver: 'qemu' as const,
    hostMemoryMiB: 2048,
    hostCpus: 2,
    hostCpuTimeSec: 100,
    details: {},
  };

  it("gives a domain's CPU share since the last sample, the first since it started", () => {
    const t0 = new Date('2024-05-01T12:00:00Z');
    const web = makeDomain({
      name: 'web',
      id: 4,
      cpuTimeSec: 30,
      startedAt: new Date(t0.getTime() - 60_000),
      memoryMiB: 512,
      maxMemoryMiB: 1024,
    });
    const first = topRows(host, [web], t0);
    expect(first.map((r) => [r.name, r.cpuPercent, r.memPercent, r.maxMemPercent])).toEqual([
      ['Domain-0', 0, 100, 100],
      ['web', 50, 25, 50],
    ]);
    const t1 = new Date(t0.getTime() + 2000);
    const second = topRows({ ...host, hostCpuTimeSec: 102 }, [{ ...web, cpuTimeSec: 31 }], t1, {
      at: t0,
      cpu: new Map(first.map((r) => [r.id, r.cpuSec])),
    });
    expect(second.map((r) => r.cpuPercent)).toEqual([100, 50]);
    expect(renderTop(second, t1).split('\n').slice(0, 2)).toEqual([
      'xm top - 12:00:02   1 domains: 0 running, 1 blocked, 0 paused, 0 crashed',
      '                NAME   STATE   CPU(sec)  CPU(%)      MEM(k)  MEM(%)   MAXMEM(k)  MAXMEM(%)  VCPUS',
    ]);
  });

  it('prints ITERATIONS tables in batch mode, and once when piped', async () => {
    const batch = await runXm(driver, root, ['top', '-b', '-i', '2', '-d', '0.1']);
    expect(batch.code).toBe(0);
    expect(batch.stdout.match(/^ +web /gm)).toHaveLength(2);
    const piped = await runXm(driver, root, ['top']);
    expect(piped.stdout.match(/^ +web /gm)).toHaveLength(1);
    const json = await runXm(driver, root, ['top', '--json', '-i', '2', '-d', '0.1']);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { domains: { name: string }[] });
    expect(lines.map((l) => l.domains.map((d) => d.name))).toEqual([
      ['Domain-0', 'web'],
      ['Domain-0', 'web'],
    ]);
  });

  it('refuses a delay that is not a number', async () => {
    const run = await runXm(driver, root, ['top', '-b', '-d', 'soon']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('delay "soon" is not a number');
  });
});

describe('xm rename', () => {
  const writeCfg = (name: string): void => {
    fs.mkdirSync(path.join(xenDir(), 'auto'), { recursive: true });
    fs.writeFileSync(path.join(xenDir(), `${name}.cfg`), `# web server\nname = '${name}'\nmemory = 256\n`, {
      mode: 0o640,
    });
    fs.symlinkSync(`../${name}.cfg`, path.join(xenDir(), 'auto', `${name}.cfg`));
  };

  it('renames a stopped guest by its files: cfg with its name line, and the autostart link', async () => {
    writeCfg('db');
    const run = await runXm(driver, root, ['rename', 'db', 'db2']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Renamed guest db to db2; config ${path.join(xenDir(), 'db2.cfg')}\n`);
    expect(fs.readFileSync(path.join(xenDir(), 'db2.cfg'), 'utf8')).toBe(
      "# web server\nname = 'db2'\nmemory = 256\n",
    );
    expect(fs.statSync(path.join(xenDir(), 'db2.cfg')).mode & 0o777).toBe(0o640);
    expect(fs.readlinkSync(path.join(xenDir(), 'auto/db2.cfg'))).toBe('../db2.cfg');
    expect(fs.existsSync(path.join(xenDir(), 'db.cfg'))).toBe(false);
    expect(fs.existsSync(path.join(xenDir(), 'auto/db.cfg'))).toBe(false);
    expect(driver.calls).toEqual([]);
  });

  it('renames a running domain through the driver, naming its new cfg', async () => {
    writeCfg('web');
    const run = await runXm(driver, root, ['rename', 'web', 'www', '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      running: true,
      newName: 'www',
      autostart: true,
    });
    expect(driver.calls).toEqual([
      { method: 'rename', args: ['web', 'www', { cfgPath: path.join(xenDir(), 'www.cfg') }] },
    ]);
  });

  it('puts the files back when the driver cannot rename the domain', async () => {
    writeCfg('web');
    driver.renameFails = true;
    const run = await runXm(driver, root, ['rename', 'web', 'www']);
    expect(run.code).toBe(1);
    expect(fs.readFileSync(path.join(xenDir(), 'web.cfg'), 'utf8')).toContain("name = 'web'");
    expect(fs.readlinkSync(path.join(xenDir(), 'auto/web.cfg'))).toBe('../web.cfg');
    expect(fs.readdirSync(xenDir()).sort()).toEqual(['auto', 'web.cfg']);
  });

  it.each([
    ['a name with a cfg', () => writeCfg('www'), ['rename', 'web', 'www'], 'www.cfg exists'],
    ['a running name', () => undefined, ['rename', 'nothing', 'web'], 'a domain "web" is running'],
    ['a guest that does not exist', () => undefined, ['rename', 'ghost', 'g2'], 'no guest "ghost"'],
    ['the same name', () => undefined, ['rename', 'web', 'web'], 'is already its name'],
    ['a name that is a path', () => undefined, ['rename', 'web', '../x'], 'xm rename'],
  ])('refuses %s with exit 2, touching nothing', async (_label, setup, args, message) => {
    setup();
    const before = fs.existsSync(xenDir()) ? fs.readdirSync(xenDir()).sort() : [];
    const run = await runXm(driver, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(fs.existsSync(xenDir()) ? fs.readdirSync(xenDir()).sort() : []).toEqual(before);
    expect(driver.calls).toEqual([]);
  });

  it('refuses a cfg whose name line names another guest', async () => {
    fs.mkdirSync(xenDir(), { recursive: true });
    fs.writeFileSync(path.join(xenDir(), 'db.cfg'), "name = 'other'\n");
    const run = await runXm(driver, root, ['rename', 'db', 'db2']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has no line name = 'db'");
    expect(fs.existsSync(path.join(xenDir(), 'db2.cfg'))).toBe(false);
  });
});
