/**
 * Progress display for long commands: a live task list with elapsed time on a TTY, plain
 * timestamped lines otherwise, nothing with --quiet. Implements the library's Reporter.
 */
import type { Reporter } from '../log/reporter.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export type ProgressMode = 'tty' | 'plain' | 'quiet';

/** Chooses the display: quiet when asked, live on a TTY, plain lines otherwise. */
export function chooseProgressMode(stream: NodeJS.WriteStream, quiet: boolean): ProgressMode {
  if (quiet) return 'quiet';
  return stream.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A Reporter that draws progress on `stream` (normally stderr, so stdout stays clean for --json). */
export function createProgressReporter(
  stream: NodeJS.WritableStream,
  mode: ProgressMode,
): Reporter & { stop(): void } {
  const started = new Map<string, { title: string; at: number }>();
  let current: { id: string; title: string; at: number; detail: string } | undefined;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;

  const draw = (): void => {
    if (!current) return;
    const line = `${FRAMES[frame++ % FRAMES.length]} ${current.title} ${seconds(Date.now() - current.at)}${current.detail ? `  ${current.detail}` : ''}`;
    const width = (stream as NodeJS.WriteStream).columns ?? 100;
    stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
  };
  const clearLine = (): void => {
    if (mode === 'tty') stream.write('\r\x1b[2K');
  };

  return {
    stepStart(id, title) {
      started.set(id, { title, at: Date.now() });
      if (mode === 'quiet') return;
      current = { id, title, at: Date.now(), detail: '' };
      if (mode === 'plain') stream.write(`[${new Date().toISOString().slice(11, 19)}] ${title} ...\n`);
      else {
        draw();
        timer ??= setInterval(draw, 100);
        timer.unref();
      }
    },
    stepEnd(id, outcome) {
      const step = started.get(id);
      if (mode === 'quiet' || !step) return;
      const mark = outcome === 'ok' ? '✔' : outcome === 'skipped' ? '-' : '✖';
      clearLine();
      stream.write(`${mark} ${step.title} (${seconds(Date.now() - step.at)})\n`);
      if (current?.id === id) current = undefined;
    },
    progress(id, text) {
      if (mode === 'quiet') return;
      if (mode === 'tty' && current?.id === id) {
        current.detail = text;
        draw();
      }
    },
    info(message) {
      if (mode === 'quiet') return;
      clearLine();
      stream.write(`  ${message}\n`);
    },
    warn(message) {
      clearLine();
      stream.write(`warning: ${message}\n`);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clearLine();
    },
  };
}
