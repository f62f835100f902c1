import fs from 'node:fs';
import path from 'node:path';
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
    fs.writeSync(this.fd, `[${new Date().toISOString()}] ${formatEvent(event)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
