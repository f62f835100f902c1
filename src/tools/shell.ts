/** `/bin/sh -c`, for the one place xen-tools' format asks for a shell: backticks in xen-tools.conf. */
import { runCommand } from './exec.js';

/** Runs `command` through `/bin/sh -c`, as Perl's backticks do. */
export async function runShellCommand(
  command: string,
): Promise<{ stdout: string; exitCode: number; stderr: string }> {
  const result = await runCommand(['/bin/sh', '-c', command], { allowFailure: true, timeoutMs: 60_000 });
  return { stdout: result.stdout, exitCode: result.exitCode, stderr: result.stderr };
}
