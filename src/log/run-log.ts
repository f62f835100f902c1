import fs from 'node:fs';
import path from 'node:path';
import { escapeControlChars } from './escape-control.js';
import { formatEvent, redactingSink, type EventSink, type LogEvent } from './events.js';

/**
 * The per-guest run log (`/var/log/xen-tools/NAME.log`): appends every event with a timestamp,
 * secrets redacted. Opened lazily so a dry run or a validation failure writes nothing.
 */
export class RunLog {
  readonly file: string;
  readonly secrets = new Set<string>();
  readonly sink: EventSink;
  private fd: number | undefined;
  private createdFile = false;

  constructor(file: string) {
    this.file = file;
    this.sink = redactingSink((event) => this.write(event), this.secrets);
  }

  /** Registers a secret: from now on it never reaches the file. */
  addSecret(secret: string): void {
    if (secret) this.secrets.add(secret);
  }

  /** Whether this run created the log file (so an unwinding may remove it). */
  get didCreate(): boolean {
    return this.createdFile;
  }

  private write(event: LogEvent): void {
    if (this.fd === undefined) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.createdFile = !fs.existsSync(this.file);
      this.fd = fs.openSync(this.file, 'a', 0o600);
    }
    const text = formatEvent(escapeEvent(event)).replace(/\n(?![ !])/g, '\n  ');
    fs.writeSync(this.fd, `[${new Date().toISOString()}] ${text}\n`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

// Values that are text of several lines by nature: a tool's collected output, a message.
const MULTILINE_KEYS = new Set(['stdout', 'stderr', 'message', 'error']);

/**
 * The event with control characters in its values made visible, and every line after the first
 * of an entry indented (above), so that no value (a path, an argument, a line a tool printed)
 * can start a line that reads like an entry of its own.
 */
function escapeEvent(event: LogEvent): LogEvent {
  return JSON.parse(JSON.stringify(event), (key, value: unknown) =>
    typeof value === 'string' ? escapeControlChars(value, MULTILINE_KEYS.has(key) ? '\n\t' : '') : value,
  ) as LogEvent;
}
