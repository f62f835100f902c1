/** mkpasswd (package whois): crypt(3) hashes the host's libxcrypt knows, password on stdin only. */
import type { EventSink } from '../log/events.js';
import { silentSink } from '../log/events.js';
import { runCommand } from './exec.js';

export type MkpasswdMethod = 'yescrypt' | 'sha512crypt' | 'sha256crypt';

export interface MkpasswdOptions {
  /** A salt in the method's format; mkpasswd picks a random one when omitted. */
  salt?: string;
  sink?: EventSink;
  signal?: AbortSignal;
}

/** Hashes a password with `mkpasswd --stdin -m METHOD`; the password goes through stdin only. */
export async function hashWithMkpasswd(
  password: string,
  method: MkpasswdMethod,
  options: MkpasswdOptions = {},
): Promise<string> {
  const sink = options.sink ?? silentSink;
  const argv = ['mkpasswd', '--stdin', '-m', method, ...(options.salt ? ['-S', options.salt] : [])];
  const result = await runCommand(argv, {
    input: `${password}\n`,
    signal: options.signal,
    // The hash is what an attacker would crack offline: the log only says that one was made.
    sink: (event) => sink(event.type === 'exec' ? { ...event, stdout: '[password hash]\n' } : event),
  });
  return result.stdout.trim();
}
