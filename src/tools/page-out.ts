/**
 * Reclaims pages of another process's address space: process_madvise(2) with MADV_PAGEOUT on a
 * pidfd (Linux 5.10). Node has no binding for either system call, so a `perl` child makes them
 * (perl-base is Essential on Debian and Ubuntu; its `syscall` passes a packed string as a
 * pointer, here the iovec array). The numbers of pidfd_open (434) and process_madvise (440) are
 * the same on every architecture: both came after the system call tables were unified.
 *
 * MADV_PAGEOUT loses nothing: clean file pages are dropped and read back from their file on the
 * next access, anonymous ones go to swap (or stay). Pages another process also maps are left as
 * they are. It needs CAP_SYS_NICE and ptrace read access to the process: root has both.
 */
import { runCommand, type ExecOptions } from './exec.js';

/** A range of the target's address space, e.g. one mapping of /proc/PID/maps. */
export interface AddressRange {
  start: number;
  length: number;
}

/** What the kernel did: the bytes it took the advice for, or why it did not. */
export type PageOutResult = { advisedBytes: number } | { failed: string };

const SYS_PIDFD_OPEN = 434;
const SYS_PROCESS_MADVISE = 440;
const MADV_PAGEOUT = 21;
/** UIO_MAXIOV: the most ranges one process_madvise call takes. */
export const MAX_RANGES = 1024;

// ARGV: PID START:LENGTH... (decimal). Prints the bytes advised, or dies with errno's text.
const PAGE_OUT = String.raw`
use strict; use warnings;
my ($pid, @ranges) = @ARGV;
$pid += 0; # a number: syscall passes a string as a pointer
my $iov = join '', map { pack 'QQ', split /:/ } @ranges;
my $pidfd = syscall(${SYS_PIDFD_OPEN}, $pid, 0);
die "pidfd_open: $!\n" if $pidfd < 0;
my $n = syscall(${SYS_PROCESS_MADVISE}, $pidfd, $iov, scalar(@ranges), ${MADV_PAGEOUT}, 0);
die "process_madvise: $!\n" if $n < 0;
print "$n\n";
`;

/**
 * Asks the kernel to page out `ranges` of process `pid`. Never throws for the kernel's refusal
 * (an old kernel, no permission, the process gone): the result says why, and nothing changed.
 */
export async function pageOut(
  pid: number,
  ranges: readonly AddressRange[],
  options: Pick<ExecOptions, 'sink' | 'signal'> = {},
): Promise<PageOutResult> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return { failed: `no process ${pid}` };
  if (ranges.length === 0) return { advisedBytes: 0 };
  if (ranges.length > MAX_RANGES) return { failed: `${ranges.length} ranges, over ${MAX_RANGES}` };
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.length) || r.start < 0 || r.length <= 0) {
      return { failed: `bad range ${r.start}+${r.length}` };
    }
  }
  const argv = ['perl', '-e', PAGE_OUT, String(pid), ...ranges.map((r) => `${r.start}:${r.length}`)];
  const result = await runCommand(argv, { ...options, allowFailure: true, timeoutMs: 10_000 }).catch(
    (error: unknown) => ({
      exitCode: -1,
      stdout: '',
      stderr: error instanceof Error ? error.message : String(error),
    }),
  );
  const advised = Number(result.stdout.trim());
  if (result.exitCode !== 0 || !Number.isSafeInteger(advised)) {
    return {
      failed: result.stderr.trim().split('\n').at(-1) || `perl exited with status ${result.exitCode}`,
    };
  }
  return { advisedBytes: advised };
}
