/**
 * A TTY-less client of a QEMU guest's serial console socket, for the end-to-end tests: it waits
 * for text, logs in at the getty, and runs shell commands whose output it cuts out between unique
 * markers (the echoed command line never contains the marker, so the echo cannot be mistaken
 * for the output). QEMU serves one client at a time: close this before `xm console`.
 */
import { appendFileSync } from 'node:fs';
import net from 'node:net';

/** What a command printed and its exit status. */
export interface CommandResult {
  output: string;
  status: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const stripCr = (text: string): string => text.replace(/\r/g, '');

let markerCount = 0;

/** One open connection to a guest's serial console. */
export class SerialConsole {
  private received = '';
  private isClosed = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly label: string,
    copyTo: string | undefined,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
      if (copyTo) appendFileSync(copyTo, chunk);
    });
    socket.on('close', () => (this.isClosed = true));
    socket.on('error', () => undefined);
  }

  /** Connects to the console socket at `socketPath` (copying what arrives to `copyTo`). */
  static async connect(socketPath: string, label: string, copyTo?: string): Promise<SerialConsole> {
    const socket = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new SerialConsole(socket, label, copyTo);
  }

  /** Everything received so far. */
  text(): string {
    return this.received;
  }

  /** Whether QEMU closed the socket (the guest is gone). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Sends bytes as typed. */
  send(data: string): void {
    this.socket.write(data);
  }

  /** Resolves with the first match of `pattern` in the text received from offset `from` on. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.received.slice(from).match(pattern);
      if (match) return match;
      if (Date.now() > deadline || this.isClosed) {
        const why = this.isClosed ? 'the console closed' : `${Math.round(timeoutMs / 1000)} s passed`;
        throw new Error(
          `console of ${this.label}: no ${pattern} (${why}); last output:\n${stripCr(this.received.slice(-1500))}`,
        );
      }
      await sleep(100);
    }
  }

  /** Resolves once the socket is closed by QEMU. */
  async waitClosed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed) {
      if (Date.now() > deadline)
        throw new Error(`console of ${this.label}: still open after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * Waits for the getty's `login:` prompt: presses Enter every few seconds (the getty prints the
   * prompt again, below any kernel message that landed on it) until a prompt ends the output.
   */
  async waitForLogin(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // systemd gives up on a device after 90 s; on a starved TCG host that can be ttyS0 itself.
      const gaveUp = /Dependency failed for .*Serial Getty on ttyS0/.exec(this.received);
      if (gaveUp) {
        throw new Error(
          `console of ${this.label}: systemd gave up on the ttyS0 getty (a device job timed out: host too loaded?):\n${stripCr(this.received.slice(-1500))}`,
        );
      }
      const from = this.received.length;
      this.send('\r');
      const left = deadline - Date.now();
      try {
        await this.waitFor(/login: *$/m, Math.max(1, Math.min(5_000, left)), from);
        return;
      } catch (error) {
        if (Date.now() >= deadline || this.isClosed) throw error;
      }
    }
  }

  /** Logs in at a login prompt and waits for the root shell's `# ` prompt. */
  async login(user: string, password: string, timeoutMs: number): Promise<void> {
    await this.waitForLogin(timeoutMs);
    let from = this.received.length;
    this.send(`${user}\r`);
    await this.waitFor(/Password: *$/m, 60_000, from);
    from = this.received.length;
    this.send(`${password}\r`);
    await this.waitFor(/# $/, 120_000, from);
    // Kernel messages on the console would land in the middle of command output.
    await this.run('dmesg -n 1', 60_000);
  }

  /** Runs `command` in the logged-in shell; its output (no CRs) and exit status. */
  async run(command: string, timeoutMs = 60_000): Promise<CommandResult> {
    const n = `${process.pid}-${++markerCount}`;
    const from = this.received.length;
    // "XK""BEGIN" echoes as typed but prints as XKBEGIN: only the output matches the markers.
    this.send(`echo "XK""BEGIN-${n}"; ${command}; echo "XK""END-${n} $?"\r`);
    const match = await this.waitFor(
      new RegExp(`XKBEGIN-${n}\\r?\\n([\\s\\S]*?)XKEND-${n} (\\d+)`),
      timeoutMs,
      from,
    );
    return { output: stripCr(match[1] ?? ''), status: Number(match[2]) };
  }

  /** Closes the connection (the guest keeps running). */
  close(): void {
    this.socket.end();
    this.socket.unref();
  }
}
