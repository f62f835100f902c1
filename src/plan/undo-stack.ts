/** The undo stack: everything a command creates registers how to remove it; failures unwind it. */
import type { EventSink } from '../log/events.js';

export interface UndoEntry {
  description: string;
  undo: () => Promise<void> | void;
}

export class UndoStack {
  private readonly entries: UndoEntry[] = [];

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

  /** Forgets everything: the command succeeded and its results stay. */
  commit(): void {
    this.entries.length = 0;
  }

  /** Runs every undo in reverse order; an undo that fails is logged and the rest still run. */
  async unwind(sink: EventSink): Promise<string[]> {
    const failures: string[] = [];
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
