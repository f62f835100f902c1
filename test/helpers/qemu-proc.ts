/** What a test reads about a running QEMU from /proc. */
import { readFileSync } from 'node:fs';

/** The size of TCG's translation cache in QEMU's smaps: its largest writable, executable mapping. */
export function tcgCacheKiB(pid: number): number {
  let perms = '';
  let largest = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+)/.exec(line);
    if (head) perms = head[1] as string;
    const size = /^Size:\s+(\d+) kB/.exec(line);
    if (size && perms.includes('w') && perms.includes('x')) largest = Math.max(largest, Number(size[1]));
  }
  return largest;
}
