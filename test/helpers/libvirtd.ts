/**
 * A libvirt daemon for the root tests on a host without systemd as PID 1: whatever of the system
 * D-Bus, virtlogd and libvirtd is not running is started (`dbus-daemon --system --fork`,
 * `virtlogd -d`, `libvirtd -d`), and `stop()` ends exactly the ones started here, by pid.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { runCommand } from '../../src/tools/exec.js';

/** The daemons a test started, to stop again. */
export interface LibvirtDaemons {
  /** What was started here, e.g. ['dbus-daemon', 'libvirtd']. */
  started: string[];
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidFrom(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `ok` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  ok: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const answers = async (): Promise<boolean> =>
  (await runCommand(['virsh', '--connect', 'qemu:///system', 'version'], { allowFailure: true })).exitCode ===
  0;

/** Makes sure qemu:///system answers, starting what is missing. */
export async function ensureLibvirtd(): Promise<LibvirtDaemons> {
  const pids: { name: string; pid: number }[] = [];
  if (!(await answers())) {
    if (pidFrom('/run/dbus/pid') === undefined) {
      // A bus that died leaves its pid file and socket, and a new one refuses to start over them.
      rmSync('/run/dbus/pid', { force: true });
      rmSync('/run/dbus/system_bus_socket', { force: true });
      mkdirSync('/run/dbus', { recursive: true });
      const dbus = await runCommand(['dbus-daemon', '--system', '--fork', '--print-pid']);
      pids.push({ name: 'dbus-daemon', pid: Number(dbus.stdout.trim()) });
    }
    if (pidFrom('/run/virtlogd.pid') === undefined) {
      await runCommand(['virtlogd', '-d']);
      await waitFor('virtlogd', () => pidFrom('/run/virtlogd.pid') !== undefined);
      pids.push({ name: 'virtlogd', pid: pidFrom('/run/virtlogd.pid') ?? 0 });
    }
    if (pidFrom('/run/libvirtd.pid') === undefined) {
      await runCommand(['libvirtd', '-d']);
      await waitFor('libvirtd', () => pidFrom('/run/libvirtd.pid') !== undefined);
      pids.push({ name: 'libvirtd', pid: pidFrom('/run/libvirtd.pid') ?? 0 });
    }
    await waitFor('qemu:///system', answers);
  }
  return {
    started: pids.map((p) => p.name),
    async stop() {
      for (const { pid } of pids.reverse()) {
        if (pid <= 0 || !alive(pid)) continue;
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      // dbus-daemon leaves its pid file and socket behind.
      if (pids.some((p) => p.name === 'dbus-daemon')) {
        rmSync('/run/dbus/pid', { force: true });
        rmSync('/run/dbus/system_bus_socket', { force: true });
      }
    },
  };
}
