/**
 * The file `xm save` writes for a QEMU guest, and `xm restore` reads: one file, like xl's.
 *
 *   "XENKIT-SAVE 1\n" + a JSON header, padded with spaces to HEADER_BYTES
 *   the kernel and initrd the guest was booted with (QEMU needs the same ones to accept the state)
 *   QEMU's migration stream, to the end of the file
 *
 * The header holds the guest's config (DomainConfig, MACs fixed), where each part starts and
 * how long it is (the stream: to the end), the QEMU it came from and when.
 */
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { runtimeError, usageError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';

const MAGIC = 'XENKIT-SAVE 1\n';
export const HEADER_BYTES = 64 * 1024;

/** One part of the file: bytes [offset, offset + length). */
export interface SavePart {
  offset: number;
  length: number;
}

export interface SaveHeader {
  config: DomainConfig;
  cfgPath: string | undefined;
  savedAt: string;
  qemu: string;
  accel: 'kvm' | 'tcg';
  kernel: SavePart | undefined;
  initrd: SavePart | undefined;
  /** Where QEMU's migration stream starts; it runs to the end of the file. */
  stateOffset: number;
}

/**
 * Writes the header, kernel and initrd of a save file to `file` (made 0600, as the guest's
 * memory follows) and returns where the migration stream must be appended.
 */
export function writeSaveStart(
  file: string,
  header: Omit<SaveHeader, 'kernel' | 'initrd' | 'stateOffset'>,
  kernel: string | undefined,
  initrd: string | undefined,
): SaveHeader {
  let offset = HEADER_BYTES;
  const part = (source: string | undefined): SavePart | undefined => {
    if (source === undefined) return undefined;
    const length = statSync(source).size;
    const placed = { offset, length };
    offset += length;
    return placed;
  };
  const full: SaveHeader = { ...header, kernel: part(kernel), initrd: part(initrd), stateOffset: 0 };
  full.stateOffset = offset;
  const text = `${MAGIC}${JSON.stringify(full)}\n`;
  if (Buffer.byteLength(text) > HEADER_BYTES) {
    throw runtimeError(
      'E_SAVE',
      `the save header of guest "${header.config.name}" is too large`,
      'report this',
    );
  }
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, text.padEnd(HEADER_BYTES, ' '));
  } finally {
    closeSync(fd);
  }
  for (const [source, where] of [
    [kernel, full.kernel],
    [initrd, full.initrd],
  ] as const) {
    if (source !== undefined && where !== undefined) appendFile(source, file);
  }
  return full;
}

function appendFile(source: string, target: string): void {
  const input = openSync(source, 'r');
  const output = openSync(target, 'a');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    for (;;) {
      const read = readSync(input, buffer, 0, buffer.length, null);
      if (read === 0) break;
      writeSync(output, buffer, 0, read);
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
}

/** Reads and checks the header of save file `file` (exit 2 when it is not one). */
export function readSaveHeader(file: string): SaveHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw usageError(
      'E_SAVE_FILE',
      `cannot read save file ${file}: ${(error as Error).message}`,
      'give the file xm save wrote',
      error,
    );
  }
  const buffer = Buffer.alloc(HEADER_BYTES);
  let read: number;
  try {
    read = readSync(fd, buffer, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  const text = buffer.subarray(0, read).toString('utf8');
  if (!text.startsWith(MAGIC)) {
    throw usageError(
      'E_SAVE_FILE',
      `${file} is not a save file of xenkit's QEMU driver`,
      'give the file xm save wrote',
    );
  }
  let header: SaveHeader;
  try {
    header = JSON.parse(text.slice(MAGIC.length).trimEnd()) as SaveHeader;
  } catch (error) {
    throw usageError('E_SAVE_FILE', `${file}: its header is damaged`, 'give the file xm save wrote', error);
  }
  const size = statSync(file).size;
  if (header.stateOffset >= size) {
    throw usageError('E_SAVE_FILE', `${file} holds no guest state (cut short?)`, 'save the guest again');
  }
  return header;
}

/** Copies part `part` of `file` into its own file `out` (the kernel and initrd QEMU boots with). */
export function extractPart(file: string, part: SavePart, out: string): void {
  const input = openSync(file, 'r');
  const output = openSync(out, 'wx', 0o600);
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    let done = 0;
    while (done < part.length) {
      const read = readSync(
        input,
        buffer,
        0,
        Math.min(buffer.length, part.length - done),
        part.offset + done,
      );
      if (read === 0) throw runtimeError('E_SAVE_FILE', `${file} is cut short`, 'save the guest again');
      writeSync(output, buffer, 0, read);
      done += read;
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
}
