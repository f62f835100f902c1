/** Progress reporting, injected by the CLI; the library is silent by default. */

export interface Reporter {
  stepStart(id: string, title: string): void;
  stepEnd(id: string, outcome: 'ok' | 'failed' | 'skipped'): void;
  /** A sub-line of progress under the current step (e.g. `unpacking 120/185`). */
  progress(id: string, text: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentReporter: Reporter = {
  stepStart: () => undefined,
  stepEnd: () => undefined,
  progress: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};
