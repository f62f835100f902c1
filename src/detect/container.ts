/**
 * Container hints, for and against. Files such as /.dockerenv are only hints: they come with the
 * image, and an image made from a container's file system keeps them after it boots on a kernel
 * of its own. What a container cannot fake is the kernel's view of it: inside one, PID 1 is not
 * the kernel's init and the kernel's own threads (kthreadd, PID 2) are not visible.
 */
import type { Container, Evidence } from './evidence.js';
import { printable } from './evidence.js';
import { readRootText, rootExists, whyUnreadable, type ProbeRoot } from './probe-root.js';

const CONTAINER_NAMES: Record<string, Container> = {
  docker: 'docker',
  podman: 'podman',
  lxc: 'lxc',
  'lxc-libvirt': 'lxc',
  'systemd-nspawn': 'systemd-nspawn',
  openvz: 'openvz',
  wsl: 'wsl',
  oci: 'container',
};

/** The container kind a `container=` value names. */
export function containerOfName(name: string): Container {
  return CONTAINER_NAMES[name] ?? 'container';
}

/** The container a /proc/1/cgroup names (`/docker/ID`, `/lxc/NAME`, `machine.slice`, libpod), if any. */
export function containerOfCgroup(text: string): Container | undefined {
  if (/\/docker[/-]|docker-[0-9a-f]{12,}\.scope/.test(text)) return 'docker';
  if (/libpod/.test(text)) return 'podman';
  if (/\/lxc(\.payload)?[/.]/.test(text)) return 'lxc';
  if (/machine\.slice\/.*nspawn|\/machine-[^/]*\.scope/.test(text)) return 'systemd-nspawn';
  return undefined;
}

/** Evidence for and against running in a container. */
export async function containerEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const out: Evidence[] = [];

  const environ = await readRootText(root, 'proc/1/environ');
  if (environ !== undefined) {
    const value = environ
      .split('\0')
      .find((v) => v.startsWith('container='))
      ?.slice('container='.length);
    out.push({
      name: 'container.environ',
      source: '/proc/1/environ',
      value: value !== undefined ? `container=${value}` : 'no container=',
      meaning:
        value !== undefined
          ? `PID 1 was started with container=${value}, as container managers tell systemd`
          : 'PID 1 was started without container= (docker does not set it, so this proves little)',
      weight: value !== undefined ? 5 : 0,
      indicates:
        value !== undefined ? { kind: 'container', container: containerOfName(value) } : { kind: 'none' },
    });
  } else {
    out.push({
      name: 'container.environ',
      source: '/proc/1/environ',
      value: (await whyUnreadable(root, 'proc/1/environ')) ?? 'unreadable',
      meaning: "PID 1's environment cannot be read, so its container= is unknown",
      weight: 0,
      indicates: { kind: 'none' },
    });
  }

  const hintFiles: [string, Container, string][] = [
    ['.dockerenv', 'docker', 'docker puts /.dockerenv into every container it runs'],
    ['run/.containerenv', 'podman', 'podman puts /run/.containerenv into every container it runs'],
  ];
  for (const [rel, kind, meaning] of hintFiles) {
    const present = await rootExists(root, rel);
    out.push({
      name: `container.${rel.replace(/^.*\/?\./, '')}`,
      source: `/${rel}`,
      value: present ? 'present' : 'absent',
      meaning: present ? `${meaning}; it also stays in an image made from one` : `no /${rel}`,
      weight: present ? 2 : 0,
      indicates: present ? { kind: 'container', container: kind } : { kind: 'none' },
    });
  }

  const cgroup = await readRootText(root, 'proc/1/cgroup');
  if (cgroup !== undefined) {
    const kind = containerOfCgroup(cgroup);
    const paths = [
      ...new Set(
        cgroup
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(':').slice(2).join(':')),
      ),
    ];
    const isRootOnly = paths.every((p) => p === '/' || p === '/init.scope');
    out.push({
      name: 'container.cgroup',
      source: '/proc/1/cgroup',
      value: paths.join(' '),
      meaning: kind
        ? `PID 1 sits in a ${kind} cgroup`
        : isRootOnly
          ? 'PID 1 is in the root cgroup (a container with its own cgroup namespace looks the same)'
          : 'PID 1 is in a cgroup no container manager names',
      weight: kind ? 2 : 0,
      indicates: kind ? { kind: 'container', container: kind } : { kind: 'none' },
    });
  }

  const kthreadd = await readRootText(root, 'proc/2/stat');
  const m = kthreadd ? /^2 \((.*)\) \S+ (\d+) /.exec(kthreadd) : null;
  const isInitNs = m?.[1] === 'kthreadd' && m[2] === '0';
  out.push({
    name: 'container.kthreadd',
    source: '/proc/2/stat',
    value: m ? `${m[1]} (ppid ${m[2]})` : 'absent',
    meaning: isInitNs
      ? "the kernel's threads are visible (PID 2 is kthreadd): this is the kernel's own PID namespace, which a container does not get (docker only with --pid=host)"
      : "PID 2 is not kthreadd: a PID namespace hides the kernel's threads, as in a container",
    weight: isInitNs ? 3 : m ? 2 : 1,
    indicates: isInitNs ? { kind: 'no-container' } : { kind: 'container' },
  });

  const comm = (await readRootText(root, 'proc/1/comm'))?.trim();
  const cmdline = printable((await readRootText(root, 'proc/1/cmdline')) ?? '');
  const kernelCmdline = (await readRootText(root, 'proc/cmdline')) ?? '';
  const init = /(?:^|\s)(?:rd)?init=(\S+)/.exec(kernelCmdline)?.[1];
  const isKernelInit =
    isInitNs && (init !== undefined ? cmdline.split(' ')[0] === init : /^(systemd|init)$/.test(comm ?? ''));
  const isContainerInit = /^(docker-init|tini|dumb-init|catatonit|conmon)$/.test(comm ?? '');
  out.push({
    name: 'container.pid1',
    source: '/proc/1/comm, /proc/1/cmdline, /proc/cmdline',
    value: `${comm ?? '?'}${init ? ` (kernel init=${init})` : ''}`,
    meaning: isKernelInit
      ? "PID 1 is the init the kernel started (it is the kernel's init= program and kthreadd is its sibling): no container init"
      : isContainerInit
        ? `PID 1 is ${comm}, an init made for containers`
        : 'PID 1 says nothing either way',
    weight: isKernelInit ? 2 : isContainerInit ? 1 : 0,
    indicates: isKernelInit
      ? { kind: 'no-container' }
      : isContainerInit
        ? { kind: 'container' }
        : { kind: 'none' },
  });

  const uidMap = await readRootText(root, 'proc/self/uid_map');
  if (uidMap !== undefined) {
    const lines = uidMap
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    const isFull = lines.length === 1 && lines[0] === '0 0 4294967295';
    out.push({
      name: 'container.userns',
      source: '/proc/self/uid_map',
      value: lines.join(', '),
      meaning: isFull
        ? 'the initial user namespace (all user IDs map to themselves)'
        : 'a user namespace maps user IDs: rootless containers (podman, lxc) run in one',
      weight: isFull ? 0 : 1,
      indicates: isFull ? { kind: 'none' } : { kind: 'container' },
    });
  }
  return out;
}
