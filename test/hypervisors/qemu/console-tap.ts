/** Test helper: a console session through the driver whose output is collected and awaited. */
import { appendFileSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import type { HypervisorDriver } from '../../../src/hypervisors/driver.js';

export interface ConsoleTap {
  /** Everything seen so far. */
  text(): string;
  /** Resolves with the match once the output (from `from` on) matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpMatchArray>;
  /** Types a line on the guest's console. */
  type(line: string): void;
  /** Sends Ctrl-] and waits for the session to end. */
  detach(): Promise<void>;
  /** Resolves when the session ends (detach or guest gone). */
  ended: Promise<void>;
}

/** Opens `name`'s console through `driver`. */
export function openConsoleTap(driver: HypervisorDriver, name: string, copyTo?: string): ConsoleTap {
  let text = '';
  const input = new PassThrough();
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      if (copyTo) appendFileSync(copyTo, chunk);
      done();
    },
  });
  const ended = driver.console(name, { input, output, isTTY: false });
  return {
    text: () => text,
    async waitFor(pattern, timeoutMs, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = text.slice(from).match(pattern);
        if (match) return match;
        if (Date.now() > deadline) {
          throw new Error(
            `console of ${name}: no ${pattern} within ${timeoutMs} ms; last output:\n${text.slice(-1500)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    type(line) {
      input.write(line + '\n');
    },
    async detach() {
      input.write(Buffer.from([0x1d]));
      await ended;
    },
    ended,
  };
}
