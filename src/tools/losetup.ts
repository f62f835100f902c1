/** losetup: loop devices for image files, attached with an undo and detached in the normal flow. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepScope } from '../plan/plan.js';
import type { EventSink } from '../log/events.js';
import { runCommand, type ExecOptions } from './exec.js';

/** One attached loop device. */
export interface LoopInfo {
  device: string;
  backingFile: string | undefined;
}

/** The argv that attaches `file` to the first free loop device and prints its name. */
export function attachLoopArgv(file: string, readOnly = false, window: LoopWindow = {}): string[] {
  return [
    'losetup',
    '--find',
    '--show',
    ...(readOnly ? ['--read-only'] : []),
    ...(window.offset !== undefined ? ['--offset', String(window.offset)] : []),
    ...(window.sizeLimit !== undefined ? ['--sizelimit', String(window.sizeLimit)] : []),
    file,
  ];
}

/** A byte range of the backing file the loop device shows (a partition of a whole disk). */
export interface LoopWindow {
  offset?: number;
  sizeLimit?: number;
}

/** The argv that detaches `device`. */
export function detachLoopArgv(device: string): string[] {
  return ['losetup', '--detach', device];
}

/** The undo-stack description of an attached loop device (unique while it is attached). */
export function loopUndoDescription(device: string): string {
  return `detach loop device ${device}`;
}

/** Parses `losetup --list --json` output. */
export function parseLosetupJson(text: string): LoopInfo[] {
  if (text.trim() === '') return [];
  const parsed = JSON.parse(text) as { loopdevices?: { name?: string; 'back-file'?: string | null }[] };
  return (parsed.loopdevices ?? [])
    .filter((d) => typeof d.name === 'string')
    .map((d) => ({ device: d.name as string, backingFile: d['back-file'] ?? undefined }));
}

/** Every attached loop device (empty when none). */
export async function listLoops(options: ExecOptions = {}): Promise<LoopInfo[]> {
  const result = await runCommand(['losetup', '--list', '--json', '--output', 'NAME,BACK-FILE'], options);
  return parseLosetupJson(result.stdout);
}

/** Loop devices backed by `file` (`losetup --associated`). */
export async function loopsOf(file: string, options: ExecOptions = {}): Promise<string[]> {
  const result = await runCommand(['losetup', '--noheadings', '--output', 'NAME', '--associated', file], {
    ...options,
    allowFailure: true,
  });
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('/dev/'));
}

/**
 * Attaches `file` to a free loop device and registers its detach on `ctx.undo`. If losetup is
 * cancelled or fails after the kernel attached the file, the stray device is detached here.
 */
export async function attachLoop(
  file: string,
  ctx: StepScope,
  options: { readOnly?: boolean } & LoopWindow = {},
): Promise<string> {
  const before = new Set(await loopsOf(file, { sink: ctx.sink }));
  const intent = ctx.undo.expect(`detach the loop device on ${file}`, {
    kind: 'loop',
    backingFile: file,
    existing: [...before],
  });
  let device: string;
  try {
    const result = await runCommand(attachLoopArgv(file, options.readOnly, options), {
      sink: ctx.sink,
      signal: ctx.signal,
    });
    device = result.stdout.trim();
  } catch (error) {
    for (const stray of await loopsOf(file, { sink: ctx.sink })) {
      if (!before.has(stray)) await detachLoopDevice(stray, ctx.sink);
    }
    intent.cancel();
    throw error;
  }
  intent.made({ kind: 'loop', backingFile: file, device });
  ctx.undo.push(loopUndoDescription(device), () => detachLoopDevice(device, ctx.sink), intent);
  return device;
}

/** Detaches `device` in the normal flow and drops its undo entry. */
export async function detachLoop(device: string, ctx: StepScope): Promise<void> {
  await detachLoopDevice(device, ctx.sink);
  ctx.undo.release(loopUndoDescription(device));
}

/**
 * Detaches `device`, retrying while it is busy (udev or blkid may hold it for a moment after a
 * umount). Never cancelled by the step's signal: it runs while unwinding a cancelled step.
 */
export async function detachLoopDevice(device: string, sink?: EventSink, attempts = 6): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const result = await runCommand(detachLoopArgv(device), { sink, allowFailure: true });
    if (result.exitCode === 0) return;
    // Already gone (detached by someone else or autocleared): nothing of ours is left.
    if (/No such device or address|No such file/i.test(result.stderr)) return;
    if (attempt >= attempts) {
      await runCommand(detachLoopArgv(device), { sink });
      return;
    }
    await sleep(100 * 2 ** attempt);
  }
}
