/** Streams that collect what a command writes, for calling CLI `main` functions in-process. */
import { Writable } from 'node:stream';

/** stdout and stderr that collect text; `out()` and `err()` read it back. */
export function captureIo(): {
  io: { stdout: Writable; stderr: Writable };
  out: () => string;
  err: () => string;
} {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        add(chunk.toString());
        done();
      },
    });
  return {
    io: { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) },
    out: () => out,
    err: () => err,
  };
}
