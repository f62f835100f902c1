/**
 * Two (or more) libvirt "hosts" on one machine for tests: each a libvirtd in a network namespace
 * of its own, with its own mount namespace (its /run/libvirt, /var/lib/libvirt, /etc/libvirt, ...
 * are directories of the test), its own host UUID and hostname, joined to the others by a veth
 * pair (or a bridge inside the first namespace for more than two). Each listens on plain TCP
 * without authentication on its namespace's address only; nothing leaves the namespaces the test
 * made. The host filesystem outside libvirt's own directories is shared, as shared storage is.
 * `stop()` kills every process left in the namespaces (the daemons and the QEMUs they started),
 * then removes the namespaces and the state directories.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import path from 'node:path';

export interface LibvirtHost {
  /** The test's name for it: h1, h2, ... (also its hostname). */
  name: string;
  netns: string;
  address: string;
  /** qemu+tcp://ADDRESS/system */
  uri: string;
  /** Its libvirt's state, config and images: bind-mounted over libvirt's paths inside. */
  stateDir: string;
  /** Runs virsh against this host from inside its namespace; never throws. */
  virsh(...args: string[]): { status: number; stdout: string; stderr: string };
  /** Runs argv inside the host's network namespace (e.g. xenkit, to reach the hosts' addresses). */
  exec(argv: string[], input?: string): { status: number; stdout: string; stderr: string };
}

export interface LibvirtHosts {
  hosts: LibvirtHost[];
  /** With `linkRoot`: this machine's own address on the hosts' network (reachable from them). */
  rootAddress: string | undefined;
  stop(): void;
}

export interface LibvirtHostsOptions {
  /**
   * Also link this machine's own network namespace to the hosts (a veth pair into the hosts'
   * bridge, 10.77.N.254): so a libvirtd running here can migrate to them and xenkit here reach them.
   */
  linkRoot?: boolean;
}

const LIBVIRT_DIRS = [
  '/run/libvirt',
  '/var/lib/libvirt',
  '/var/cache/libvirt',
  '/var/log/libvirt',
  '/etc/libvirt',
];

function sh(argv: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function must(argv: string[]): string {
  const r = sh(argv);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why the hosts cannot be made here, or undefined. */
export function libvirtHostsMissing(): string | undefined {
  if (!existsSync('/usr/sbin/libvirtd')) return 'libvirtd is not installed (scripts/setup-host.sh --test)';
  if (sh(['ip', 'netns', 'list']).status !== 0) return 'network namespaces are not available';
  return undefined;
}

function killNamespace(netns: string): void {
  for (let round = 0; round < 20; round++) {
    const pids = sh(['ip', 'netns', 'pids', netns]).stdout.split('\n').filter(Boolean);
    if (pids.length === 0) return;
    sh(['kill', round < 5 ? '-TERM' : '-KILL', ...pids]);
    spawnSync('sleep', ['0.25']);
  }
}

/**
 * Starts `count` hosts on 10.77.N.0/24 (N from the test's pid, so parallel runs do not clash).
 * Waits until each answers on its URI.
 */
export function startLibvirtHosts(
  count = 2,
  options: LibvirtHostsOptions = {},
  tag = String(process.pid % 10000),
): LibvirtHosts {
  const base = path.join('/var/tmp', `xenkit-libvirt-hosts-${tag}`);
  const subnet = 10 + (Number(tag) % 200);
  const hosts: LibvirtHost[] = [];
  const made: string[] = [];
  const rootLink = `xkr${tag}`;
  let rootAddress: string | undefined;
  let rootLinked = false;
  const stop = (): void => {
    if (rootLinked) sh(['ip', 'link', 'delete', rootLink]);
    for (const netns of made) killNamespace(netns);
    for (const netns of made) sh(['ip', 'netns', 'delete', netns]);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    mkdirSync(base, { recursive: true, mode: 0o755 });
    chmodSync(base, 0o755);
    for (let i = 1; i <= count; i++) {
      const name = `h${i}`;
      const netns = `xkh${tag}-${i}`;
      must(['ip', 'netns', 'add', netns]);
      made.push(netns);
      must(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
      const address = `10.77.${subnet}.${i}`;
      const stateDir = path.join(base, name);
      const exec = (argv: string[], input?: string): ReturnType<typeof sh> =>
        sh(['ip', 'netns', 'exec', netns, ...argv], input);
      const uri = `qemu+tcp://${address}/system`;
      hosts.push({
        name,
        netns,
        address,
        uri,
        stateDir,
        exec,
        virsh: (...args) => exec(['virsh', '--connect', uri, ...args]),
      });
    }
    // Link: the hosts (and with linkRoot this machine) hang off a bridge in the first namespace.
    const [first, ...rest] = hosts;
    if (first && (rest.length > 0 || options.linkRoot)) {
      const bridge = 'xkbr0';
      must(['ip', '-n', first.netns, 'link', 'add', bridge, 'type', 'bridge']);
      must(['ip', '-n', first.netns, 'link', 'set', bridge, 'up']);
      must(['ip', '-n', first.netns, 'addr', 'add', `${first.address}/24`, 'dev', bridge]);
      for (const host of rest) {
        const inner = `xkv${host.name}`;
        must([
          'ip',
          '-n',
          host.netns,
          'link',
          'add',
          inner,
          'type',
          'veth',
          'peer',
          'name',
          `p${host.name}`,
          'netns',
          first.netns,
        ]);
        must(['ip', '-n', first.netns, 'link', 'set', `p${host.name}`, 'master', bridge, 'up']);
        must(['ip', '-n', host.netns, 'addr', 'add', `${host.address}/24`, 'dev', inner]);
        must(['ip', '-n', host.netns, 'link', 'set', inner, 'up']);
      }
    }
    if (first && options.linkRoot) {
      must(['ip', 'link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'proot', 'netns', first.netns]);
      rootLinked = true;
      must(['ip', '-n', first.netns, 'link', 'set', 'proot', 'master', 'xkbr0', 'up']);
      rootAddress = `10.77.${subnet}.254`;
      must(['ip', 'addr', 'add', `${rootAddress}/24`, 'dev', rootLink]);
      must(['ip', 'link', 'set', rootLink, 'up']);
    }
    for (const host of hosts) startDaemon(host);
    for (const host of hosts) {
      const deadline = Date.now() + 60_000;
      while (host.virsh('uri').status !== 0) {
        if (Date.now() > deadline) throw new Error(`libvirtd of ${host.name} (${host.uri}) never answered`);
        spawnSync('sleep', ['0.3']);
      }
    }
    return { hosts, rootAddress, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

function startDaemon(host: LibvirtHost): void {
  const dirs = LIBVIRT_DIRS.map((dir) => ({ dir, own: path.join(host.stateDir, dir.replaceAll('/', '_')) }));
  for (const { own } of dirs) mkdirSync(own, { recursive: true, mode: 0o755 });
  const etc = dirs.find((d) => d.dir === '/etc/libvirt')!.own;
  cpSync('/etc/libvirt', etc, { recursive: true });
  // No inherited guests or networks: a host starts empty.
  const qemuEtc = path.join(etc, 'qemu');
  for (const entry of existsSync(qemuEtc) ? readdirSync(qemuEtc) : []) {
    if (entry.endsWith('.xml') || entry === 'networks' || entry === 'autostart')
      rmSync(path.join(qemuEtc, entry), { recursive: true, force: true });
  }
  appendFileSync(
    path.join(etc, 'libvirtd.conf'),
    `\nlisten_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\ntcp_port = "16509"\nlisten_addr = "${host.address}"\nhost_uuid = "${randomUUID()}"\n`,
  );
  // Migration streams go to this address (the hostname resolves to nothing); no virtlogd.
  appendFileSync(
    path.join(etc, 'qemu.conf'),
    `\nmigration_host = "${host.address}"\nstdio_handler = "file"\n`,
  );
  const mounts = dirs.map(({ dir, own }) => `mkdir -p ${dir} && mount --bind ${own} ${dir}`).join(' && ');
  const script = `${mounts} && mkdir -p /var/lib/libvirt/qemu /var/lib/libvirt/images && hostname ${host.name} && exec libvirtd --listen --daemon --pid-file ${host.stateDir}/libvirtd.pid`;
  const r = host.exec(['unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script]);
  if (r.status !== 0) throw new Error(`libvirtd of ${host.name} did not start: ${r.stderr.trim()}`);
}
