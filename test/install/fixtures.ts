/** Shared fixtures for the install tests: an InstallSpec and a StepContext that records. */
import type { LogEvent } from '../../src/log/events.js';
import type { Reporter } from '../../src/log/reporter.js';
import type { InstallSpec } from '../../src/model/guest-spec.js';
import type { StepContext } from '../../src/plan/plan.js';
import { UndoStack } from '../../src/plan/undo-stack.js';

/** A bookworm InstallSpec with every field set; override what a test is about. */
export function makeInstallSpec(overrides: Partial<InstallSpec> = {}): InstallSpec {
  return {
    method: 'mmdebstrap',
    source: undefined,
    dist: 'bookworm',
    arch: 'amd64',
    mirror: 'http://deb.debian.org/debian',
    securityMirror: undefined,
    keyring: undefined,
    aptProxy: undefined,
    cache: false,
    cacheDir: '/var/cache/xenkit',
    debootstrapCommand: undefined,
    extraPackages: [],
    enabled: true,
    ...overrides,
  };
}

export interface RecordingContext extends StepContext {
  events: LogEvent[];
  progress: string[];
  warnings: string[];
}

/** A StepContext whose sink and reporter keep everything, with an optional abort signal. */
export function makeContext(signal: AbortSignal = new AbortController().signal): RecordingContext {
  const events: LogEvent[] = [];
  const progress: string[] = [];
  const warnings: string[] = [];
  const reporter: Reporter = {
    stepStart: () => undefined,
    stepEnd: () => undefined,
    progress: (_id, text) => progress.push(text),
    info: () => undefined,
    warn: (message) => warnings.push(message),
  };
  return {
    undo: new UndoStack(),
    sink: (e) => events.push(e),
    reporter,
    signal,
    state: new Map(),
    events,
    progress,
    warnings,
  };
}
