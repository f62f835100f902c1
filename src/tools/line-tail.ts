/**
 * Splits a child's output stream into lines as it arrives and keeps only its last characters, so
 * a long installer run costs a bounded amount of memory however much it prints.
 */
import { StringDecoder } from 'node:string_decoder';

/** A line longer than this is passed on in pieces rather than held until its newline. */
const MAX_LINE = 64 * 1024;

/** Line splitter with a bounded tail of the text seen (what an error message quotes). */
export class LineTail {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private kept = '';
  private dropped = 0;

  /** `limit`: characters of tail kept; `onLine` gets every line without its line ending. */
  constructor(
    private readonly limit: number,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Feeds a chunk of output. */
  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.keep(text);
    let rest = this.partial + text;
    let newline = rest.indexOf('\n');
    while (newline !== -1) {
      this.onLine(rest.slice(0, newline).replace(/\r$/, ''));
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
    if (rest.length > MAX_LINE) {
      this.onLine(rest);
      rest = '';
    }
    this.partial = rest;
  }

  /** Flushes a last line that had no newline. */
  end(): void {
    const text = this.decoder.end();
    if (text) this.push(text);
    if (this.partial) this.onLine(this.partial.replace(/\r$/, ''));
    this.partial = '';
  }

  /** The last `limit` characters of everything pushed (fewer when less was printed). */
  get text(): string {
    return this.kept.length > this.limit ? this.kept.slice(-this.limit) : this.kept;
  }

  /** How many characters were pushed in all, tail included. */
  get total(): number {
    return this.dropped + this.kept.length;
  }

  private keep(text: string): void {
    this.kept += text;
    // Trimmed only past twice the limit, so the copy is paid once per `limit` characters.
    if (this.kept.length > 2 * this.limit) {
      const cut = this.kept.length - this.limit;
      this.dropped += cut;
      this.kept = this.kept.slice(cut);
    }
  }
}
