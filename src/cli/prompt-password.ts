/** Collects the root password in the CLI (the library never prompts): TTY prompt, file or stdin. */
import fs from 'node:fs';
import { usageError } from '../errors.js';

/** Reads the first line of a file holding a password (trailing newline dropped). */
export function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(
      'E_PASSWORD_FILE',
      `password file "${file}" cannot be read`,
      'give a readable file',
      error,
    );
  }
  const line = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  if (!line)
    throw usageError(
      'E_PASSWORD_FILE',
      `password file "${file}" is empty`,
      'put the password on its first line',
    );
  return line;
}

/** Reads the first line of standard input. */
export async function readPasswordStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  const line = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  if (!line)
    throw usageError(
      'E_PASSWORD_STDIN',
      'no password on standard input',
      'pipe it in: echo "$PW" | xen-create-image --password-stdin ...',
    );
  return line;
}

/** Asks twice on the terminal without echo; refuses when there is no terminal. */
export async function promptPassword(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  if (!input.isTTY) {
    throw usageError(
      'E_PASSWORD_TTY',
      '--passwd asks for the password on a terminal, but there is none',
      'use --password-file FILE or --password-stdin',
    );
  }
  const ask = (question: string): Promise<string> =>
    new Promise((resolve, reject) => {
      output.write(question);
      input.setRawMode(true);
      input.resume();
      let value = '';
      const onData = (data: Buffer): void => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            finish();
            output.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            finish();
            output.write('\n');
            reject(usageError('E_CANCELLED', 'password entry cancelled'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const finish = (): void => {
        input.off('data', onData);
        input.setRawMode(false);
        input.pause();
      };
      input.on('data', onData);
    });
  const first = await ask('Root password for the new guest: ');
  if (!first) throw usageError('E_PASSWORD', 'the password is empty', 'type a password, or use --genpass');
  const second = await ask('Again: ');
  if (first !== second) throw usageError('E_PASSWORD', 'the two passwords differ', 'run the command again');
  return first;
}
