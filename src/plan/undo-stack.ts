/** The undo stack: everything a command creates registers how to remove it; failures unwind it. */
import type { EventSink } from '../log/events.js';

export interface UndoEntry {
  description: string;
  undo: () => Promise<void> | void;
}

export class UndoStack {
  private readonly entries: UndoEntry[] = [];
  private readonly onCommit: UndoEntry[] = [];

  /** Registers clean-up that runs only once the whole command succeeded (e.g. dropping a backup). */
  afterCommit(description: string, fn: () => Promise<void> | void): void {
    this.onCommit.push({ description, undo: fn });
  }

  /** Registers how to undo something that was just created (call right after creating it). */
  push(description: string, undo: () => Promise<void> | void): void {
    this.entries.push({ description, undo });
  }

  /**
   * Removes the most recent entry whose description matches, without running it: for things
   * a later step consumes on purpose (an unmount done as part of the normal flow).
   */
  release(description: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]?.description === description) {
        this.entries.splice(i, 1);
        return;
      }
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Descriptions, oldest first. */
  describe(): string[] {
    return this.entries.map((e) => e.description);
  }

  /** The command succeeded: its results stay; runs the after-commit clean-ups (failures only logged). */
  async commit(sink: EventSink): Promise<void> {
    this.entries.length = 0;
    for (const entry of this.onCommit.splice(0)) {
      try {
        await entry.undo();
      } catch (error) {
        sink({
          type: 'warn',
          message: `${entry.description}: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
  }

  /** Runs every undo in reverse order; an undo that fails is logged and the rest still run. */
  async unwind(sink: EventSink): Promise<string[]> {
    const failures: string[] = [];
    this.onCommit.length = 0;
    while (this.entries.length > 0) {
      const entry = this.entries.pop() as UndoEntry;
      try {
        await entry.undo();
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
