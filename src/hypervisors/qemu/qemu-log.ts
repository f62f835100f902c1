/**
 * QEMU's own log. A daemonized QEMU points its stderr at /dev/null unless `-D FILE` is given, in
 * which case stderr goes to FILE: its warnings and, when it dies, its last words (an assertion,
 * "double free or corruption", a hardware error) are kept in the guest's runtime directory
 * instead of lost. When the QMP socket closes under a command, the error carries them.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { XenkitError } from '../../errors.js';

/** The last `maxLines` non-empty lines of `file` (from its last `maxBytes`), or undefined. */
export function qemuLogTail(file: string, maxLines = 5, maxBytes = 4096): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '');
    // The first line may be cut in the middle when the file is longer than maxBytes.
    if (size > maxBytes) lines.shift();
    const tail = lines.slice(-maxLines);
    return tail.length > 0 ? tail.join('\n') : undefined;
  } finally {
    closeSync(fd);
  }
}

/** `error` with QEMU's last log lines as its details when QMP closed under a command. */
export function withQemuLastWords(error: unknown, logFile: string): unknown {
  if (!(error instanceof XenkitError) || error.code !== 'E_QMP_CLOSED') return error;
  const tail = qemuLogTail(logFile);
  if (tail === undefined) return error;
  return new XenkitError(error.code, error.message, {
    kind: error.kind,
    hint: error.hint,
    details: `QEMU's log (${logFile}) ends with:\n${tail}`,
    cause: error,
  });
}
