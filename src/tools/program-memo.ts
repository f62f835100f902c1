/**
 * What a program says about itself (`--version`, `-cpu help`), asked once and remembered in a
 * small JSON file, keyed by the program file's path, size, mtime and inode: a package upgrade
 * changes the file and so asks again. For programs slow to start (mmdebstrap, a Perl script:
 * 0.1-0.3 s) or asked on every start of a guest (QEMU).
 */
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where `program` is on PATH (a name with a slash is taken as it is). */
export async function locateProgram(program: string): Promise<string | undefined> {
  if (program.includes('/')) return path.resolve(program);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    const st = await stat(candidate).catch(() => undefined);
    if (st?.isFile()) return candidate;
  }
  return undefined;
}

/** `PATH:SIZE:MTIME:INODE` of the file `program` runs, or undefined when there is none. */
export async function programStamp(program: string): Promise<string | undefined> {
  const located = await locateProgram(program);
  const st = located ? await stat(located).catch(() => undefined) : undefined;
  return st ? `${located}:${st.size}:${st.mtimeMs}:${st.ino}` : undefined;
}

/**
 * The remembered answer of `program` in `memoFile` under `topic`, or `ask()`'s, which is then
 * remembered when it is not undefined (a failed question is asked again next time). The file is
 * replaced atomically; a file that cannot be read or written only costs asking again.
 */
export async function memoizedAnswer(
  memoFile: string,
  program: string,
  topic: string,
  ask: () => Promise<string | undefined>,
): Promise<string | undefined> {
  const stamp = await programStamp(program);
  const key = stamp === undefined ? undefined : topic === '' ? stamp : `${topic} ${stamp}`;
  const memo = await readMemo(memoFile);
  const known = key === undefined ? undefined : memo[key];
  if (known !== undefined) return known;
  const answer = await ask();
  if (key !== undefined && answer !== undefined) {
    await writeMemo(memoFile, { ...memo, [key]: answer }).catch(() => undefined);
  }
  return answer;
}

async function readMemo(file: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

async function writeMemo(file: string, memo: Record<string, string>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(memo, null, 2) + '\n');
  await rename(temp, file);
}
