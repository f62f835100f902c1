/** The reply directory and call log shared by the fake executables of the tests (xl, virsh). */
import fs from 'node:fs';
import path from 'node:path';

/** A canned reply: what the fake prints on stdout and stderr, and its exit status. */
export interface FakeReply {
  out?: string;
  err?: string;
  rc?: number;
}

/** Sets the reply to KEY in `dir` (KEY.out, KEY.err, KEY.rc), replacing any earlier one. */
export function writeReply(dir: string, key: string, reply: FakeReply): void {
  for (const ext of ['out', 'err', 'rc'] as const)
    fs.rmSync(path.join(dir, `${key}.${ext}`), { force: true });
  if (reply.out !== undefined) fs.writeFileSync(path.join(dir, `${key}.out`), reply.out);
  if (reply.err !== undefined) fs.writeFileSync(path.join(dir, `${key}.err`), reply.err);
  if (reply.rc !== undefined) fs.writeFileSync(path.join(dir, `${key}.rc`), String(reply.rc));
}

/** The argument lists logged to `log`, one call a line. */
export function readCalls(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trimEnd().split('\n') : [];
}
