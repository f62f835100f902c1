/**
 * The output of a child as runCommand keeps it: each stream whole (up to a limit past which the
 * child is killed), or, when streaming, only its last characters while every line is handed on.
 */
import { LineTail } from './line-tail.js';

/** Output beyond this is an error (the child is killed): no tool we run prints that much. */
export const MAX_BUFFER = 256 * 1024 * 1024;

/** One output stream of the child: whole (a list of chunks) or a line tail when streaming. */
export class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  readonly lines: LineTail | undefined;

  constructor(
    private readonly tail: number | undefined,
    onLine: ((line: string) => void) | undefined,
  ) {
    // Streaming keeps `tail` characters; otherwise the tail is only a line splitter.
    this.lines =
      tail !== undefined || onLine ? new LineTail(tail ?? 0, onLine ?? (() => undefined)) : undefined;
  }

  /** Takes a chunk; false once the output is larger than MAX_BUFFER. */
  push(chunk: Buffer): boolean {
    this.lines?.push(chunk);
    if (this.tail !== undefined) return true;
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this.size <= MAX_BUFFER;
  }

  end(): void {
    this.lines?.end();
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.tail !== undefined ? (this.lines?.text ?? '') : this.buffer().toString('utf8');
  }
}
