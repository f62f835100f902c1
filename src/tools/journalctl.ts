/** journalctl: the kernel's boots and CRNG readiness in a guest's journal files, read on the host. */
import { runCommand, type ExecOptions } from './exec.js';

/** One boot in a journal: when its kernel messages begin and end, and when its CRNG was ready. */
export interface JournalBoot {
  bootId: string;
  /** ms since the epoch. */
  first: number;
  last: number;
  /** When the kernel said `crng init done` (ms since the epoch), if it did. */
  crngReady: number | undefined;
}

/** The argv that prints the kernel messages of every journal file under `dir` as JSON lines. */
export function kernelMessagesArgv(dir: string): string[] {
  return [
    'journalctl',
    '--directory',
    dir,
    '--dmesg',
    '--output=json',
    '--output-fields=MESSAGE,_BOOT_ID',
    '--no-pager',
    '--quiet',
  ];
}

/** The message text of a journal JSON entry (a string, or bytes for non-UTF-8 text). */
function messageText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return Buffer.from(value.filter((b) => typeof b === 'number')).toString('latin1');
  return '';
}

/** Boots from `journalctl --output=json` lines of kernel messages, in the order first seen. */
export function parseKernelBoots(text: string): JournalBoot[] {
  const boots = new Map<string, JournalBoot>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const bootId = typeof entry['_BOOT_ID'] === 'string' ? entry['_BOOT_ID'] : '';
    const at = Math.floor(Number(entry['__REALTIME_TIMESTAMP']) / 1000);
    if (!bootId || !Number.isFinite(at)) continue;
    const boot = boots.get(bootId) ?? { bootId, first: at, last: at, crngReady: undefined };
    boot.first = Math.min(boot.first, at);
    boot.last = Math.max(boot.last, at);
    // "random: crng init done" (kernels 4.x-6.x); "crng init done" alone on some.
    if (/\bcrng init done\b/.test(messageText(entry['MESSAGE'])) && boot.crngReady === undefined)
      boot.crngReady = at;
    boots.set(bootId, boot);
  }
  return [...boots.values()];
}

/** The boots recorded in the journal files under `dir`. */
export async function readKernelBoots(dir: string, options: ExecOptions = {}): Promise<JournalBoot[]> {
  // Exit status 1 with no entries at all: no boots.
  const result = await runCommand(kernelMessagesArgv(dir), { ...options, allowFailure: true });
  return parseKernelBoots(result.stdout);
}
