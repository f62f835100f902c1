/** The undo stack: everything a command creates registers how to remove it; failures unwind it. */
import type { EventSink } from '../log/events.js';
import type { Debris, RunJournal } from './run-journal.js';

export interface UndoEntry {
  description: string;
  undo: () => Promise<void> | void;
  /** The run-journal record of what this entry removes, if journaled. */
  journalId?: number | undefined;
}

/**
 * A journal record made before something is created (intent): `made` puts the identity of what
 * was created into the record, `cancel` drops it when nothing was created after all.
 */
export interface DebrisIntent {
  readonly id: number | undefined;
  made(debris: Debris): void;
  cancel(): void;
}

export class UndoStack {
  private readonly entries: UndoEntry[] = [];
  private readonly onCommit: UndoEntry[] = [];
  /** Where debris is recorded so that a run killed outright can be cleaned up by the next one. */
  journal: RunJournal | undefined;

  /**
   * Records in the run journal that `debris` is about to be made (call BEFORE making it; pass the
   * result to `push` once it exists). Without a journal it only carries the description along.
   */
  expect(description: string, debris: Debris): DebrisIntent {
    const journal = this.journal;
    const id = journal?.record(description, debris);
    return {
      id,
      made: (made) => {
        if (id !== undefined) journal?.update(id, made);
      },
      cancel: () => {
        if (id !== undefined) journal?.drop(id);
      },
    };
  }

  /** Registers clean-up that runs only once the whole command succeeded (e.g. dropping a backup). */
  afterCommit(description: string, fn: () => Promise<void> | void, debris?: Debris): void {
    const journalId = debris ? this.journal?.record(description, debris, 'commit') : undefined;
    this.onCommit.push({ description, undo: fn, journalId });
  }

  /**
   * Registers how to undo something that was just created (call right after creating it). `debris`
   * journals it (better: an intent from `expect`, recorded before it was made).
   */
  push(description: string, undo: () => Promise<void> | void, debris?: Debris | DebrisIntent): void {
    let journalId: number | undefined;
    if (debris && 'kind' in debris) journalId = this.journal?.record(description, debris);
    else journalId = debris?.id;
    this.entries.push({ description, undo, journalId });
  }

  /**
   * Removes the most recent entry whose description matches, without running it: for things
   * a later step consumes on purpose (an unmount done as part of the normal flow).
   */
  release(description: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry?.description === description) {
        this.entries.splice(i, 1);
        if (entry.journalId !== undefined) this.journal?.drop(entry.journalId);
        return;
      }
    }
  }

  /**
   * Keeps the entry for the normal unwind but drops its journal record: from here on, undoing it
   * after a crash would do harm (a container must not shrink under a filesystem half grown).
   */
  unjournal(description: string): void {
    const entry = this.entries.findLast((e) => e.description === description);
    if (entry?.journalId === undefined) return;
    this.journal?.drop(entry.journalId);
    entry.journalId = undefined;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Descriptions, oldest first. */
  describe(): string[] {
    return this.entries.map((e) => e.description);
  }

  /**
   * The command succeeded: its results stay; runs the after-commit clean-ups (failures only
   * logged); true when all of them succeeded. Each one done leaves the journal, so a run killed
   * in the middle leaves the rest to the next one.
   */
  async commit(sink: EventSink): Promise<boolean> {
    this.entries.length = 0;
    this.journal?.markCommitted();
    let isClean = true;
    for (const entry of this.onCommit.splice(0)) {
      try {
        await entry.undo();
        if (entry.journalId !== undefined) this.journal?.drop(entry.journalId);
      } catch (error) {
        isClean = false;
        sink({
          type: 'warn',
          message: `${entry.description}: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
    return isClean;
  }

  /** Runs every undo in reverse order; an undo that fails is logged and the rest still run. */
  async unwind(sink: EventSink): Promise<string[]> {
    const failures: string[] = [];
    for (const entry of this.onCommit.splice(0)) {
      if (entry.journalId !== undefined) this.journal?.drop(entry.journalId);
    }
    while (this.entries.length > 0) {
      const entry = this.entries.pop() as UndoEntry;
      try {
        await entry.undo();
        if (entry.journalId !== undefined) this.journal?.drop(entry.journalId);
        sink({ type: 'undo', description: entry.description, outcome: 'ok' });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`${entry.description}: ${message}`);
        sink({ type: 'undo', description: entry.description, outcome: 'failed', error: message });
      }
    }
    return failures;
  }
}
