/**
 * `xenkit audit [NAME...]`: the identity of every guest xenkit knows (each /etc/xen/*.cfg), read
 * out of its images without changing them, and the findings over all of them. Named guests are
 * compared with every other guest; only findings that concern a named guest are reported.
 */
import path from 'node:path';
import { usageError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { silentSink } from '../log/events.js';
import { assertGuestName } from '../model/guest-name.js';
import type { Paths } from '../paths.js';
import { UndoStack } from '../plan/undo-stack.js';
import {
  emptyGuestFacts,
  findIdentityProblems,
  findingsFor,
  type Finding,
  type GuestFacts,
} from './audit-findings.js';
import { readGuestFacts } from './audit-read.js';
import { readGuest } from './guest-files.js';
import { listCfgFiles } from './linked-base.js';

/** The audit's answer. */
export interface AuditReport {
  /** The guests asked about (all of them when no name was given). */
  guests: GuestFacts[];
  findings: Finding[];
}

/** Reads every guest and returns the findings that concern `names` (all guests when empty). */
export async function auditGuests(
  paths: Paths,
  names: readonly string[],
  options: { sink?: EventSink; signal?: AbortSignal } = {},
): Promise<AuditReport> {
  const known = listCfgFiles(paths.xenDir).map((f) => path.basename(f, '.cfg'));
  for (const name of names) {
    assertGuestName(name, 'command line');
    if (!known.includes(name)) {
      throw usageError(
        'E_NO_GUEST',
        `guest "${name}": no domain config ${path.join(paths.xenDir, `${name}.cfg`)}`,
        'xenkit list-images shows the guests there are',
      );
    }
  }
  const undo = new UndoStack();
  const scope = {
    undo,
    sink: options.sink ?? silentSink,
    signal: options.signal ?? new AbortController().signal,
  };
  const all: GuestFacts[] = [];
  try {
    for (const name of known) {
      try {
        all.push(await readGuestFacts(readGuest(paths, name), scope));
      } catch (error) {
        // A cfg xl cannot parse, a name that is not one: reported, the others still read.
        all.push(unreadableGuest(name, path.join(paths.xenDir, `${name}.cfg`), error));
      }
    }
  } finally {
    // Whatever a failed read left open (a mount, a loop device, an export).
    await undo.unwind(scope.sink);
  }
  const findings = findingsFor(findIdentityProblems(all), names);
  return { guests: names.length === 0 ? all : all.filter((g) => names.includes(g.name)), findings };
}

function unreadableGuest(name: string, cfgPath: string, error: unknown): GuestFacts {
  return {
    ...emptyGuestFacts(name, cfgPath),
    problems: [error instanceof Error ? error.message : String(error)],
  };
}
