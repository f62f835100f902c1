/**
 * Loads a listing bundle (dist/bundle/list.cjs for `xm list`, list-images.cjs for
 * `xen-list-images`) with V8's code cache: node 20 keeps no compiled
 * code between runs, and compiling the bundle (and the functions a listing calls) is a sixth of
 * what `xen-list-images` spends after node's own start. The cache sits beside the bundle, one
 * per command (`list.cjs.xm.cache`, `list-images.cjs.xen-list-images.cache`: each holds the
 * functions its command compiled), and is used only when it cannot have been written by anyone but its reader
 * or root: a regular file owned by root or by this user, writable by nobody else, in a directory
 * of the same kind. Its header names the node, V8 and architecture that wrote it and the bundle's
 * size, mtime and inode; any difference, a cache V8 rejects, or one that cannot be trusted, and the
 * bundle is compiled as if there were none. A missing, stale or rejected cache is written again
 * after the command ran (atomically, mode 0644), when the directory is this user's to write.
 * XENKIT_CODE_CACHE=0 loads the bundle with plain require().
 *
 * Builtins come through process.getBuiltinModule: an ESM import of node:fs builds its facade
 * by reading every export, which loads the fs streams and promises a listing never uses.
 */
import type * as ListEntry from './list.js';
import type * as ListImagesEntry from './list-images.js';

const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const vm = process.getBuiltinModule('node:vm');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const { createRequire, wrap } = process.getBuiltinModule('node:module') as typeof import('node:module') & {
  wrap(source: string): string;
};

/** What a load did with the cache (tests and XENKIT_DEBUG read it). */
export type CodeCacheState = 'off' | 'missing' | 'stale' | 'untrusted' | 'rejected' | 'used';

/** What each listing command's bundle exports. */
interface ListingEntries {
  xm: typeof ListEntry;
  'xen-list-images': typeof ListImagesEntry;
}

/** The bundle each listing command loads, beside dist/cli/bin/list-loader.js. */
const BUNDLES = { xm: '../../bundle/list.cjs', 'xen-list-images': '../../bundle/list-images.cjs' };

/** The loaded listing bundle, and how. */
export interface LoadedListing<Entry = typeof ListEntry> {
  entry: Entry;
  cache: CodeCacheState;
  /** Writes the cache when it was missing, stale or rejected (never throws). */
  saveCache(): void;
}

const MAGIC = 'xenkit-code-cache 1';

/** Whether `stat` (of a file or directory) can only have been written by root or this user. */
function isOwnedSafely(stat: import('node:fs').Stats): boolean {
  const uid = process.geteuid?.() ?? -1;
  return (stat.uid === 0 || stat.uid === uid) && (stat.mode & 0o022) === 0;
}

/** The header line that a cache for `bundle` (as `stat` shows it) must start with. */
function headerFor(stat: import('node:fs').Stats): string {
  const key = [
    process.version,
    `v8-${process.versions.v8}`,
    process.arch,
    `size-${stat.size}`,
    `mtime-${stat.mtimeMs}`,
    `ino-${stat.ino}`,
  ];
  return `${MAGIC} ${key.join(' ')}\n`;
}

/** The cache's data when it is there, trusted and made for this bundle and node; else why not. */
function readCache(
  cacheFile: string,
  header: string,
): { data: Buffer } | { state: 'missing' | 'stale' | 'untrusted' } {
  let fd: number;
  try {
    // O_NOFOLLOW: a link in place of the cache is refused, not followed.
    fd = fs.openSync(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    return { state: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'untrusted' };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || !isOwnedSafely(stat) || !isOwnedSafely(fs.statSync(path.dirname(cacheFile)))) {
      return { state: 'untrusted' };
    }
    const content = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = fs.readSync(fd, content, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    const head = Buffer.from(header);
    if (read !== stat.size || read <= head.length || !content.subarray(0, head.length).equals(head)) {
      return { state: 'stale' };
    }
    return { data: content.subarray(head.length) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` under `header` to `cacheFile` through a temporary file and a rename. */
function writeCache(cacheFile: string, header: string, data: Buffer): void {
  const dir = path.dirname(cacheFile);
  if (!isOwnedSafely(fs.statSync(dir))) return;
  const temp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, Buffer.concat([Buffer.from(header), data]), { mode: 0o644, flag: 'wx' });
    fs.renameSync(temp, cacheFile);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Loads `bundle` (default `command`'s bundle in dist/bundle/ of this module's package) with the
 * code cache of `command` (a file name part), or with require() when XENKIT_CODE_CACHE is 0.
 */
export function loadListing<Command extends keyof ListingEntries>(
  command: Command,
  bundle = fileURLToPath(new URL(BUNDLES[command], import.meta.url)),
  env: NodeJS.ProcessEnv = process.env,
): LoadedListing<ListingEntries[Command]> {
  type Entry = ListingEntries[Command];
  const require = createRequire(bundle);
  if (env.XENKIT_CODE_CACHE === '0') {
    return { entry: require(bundle) as Entry, cache: 'off', saveCache: () => undefined };
  }
  const cacheFile = `${bundle}.${command}.cache`;
  const source = fs.readFileSync(bundle, 'utf8');
  const header = headerFor(fs.statSync(bundle));
  const cached = readCache(cacheFile, header);
  const script = new vm.Script(wrap(source), {
    filename: bundle,
    cachedData: 'data' in cached ? cached.data : undefined,
  });
  const cache: CodeCacheState =
    'data' in cached ? (script.cachedDataRejected === true ? 'rejected' : 'used') : cached.state;
  const module = { exports: {} as Entry };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    require,
    module,
    bundle,
    path.dirname(bundle),
  );
  return {
    entry: module.exports,
    cache,
    saveCache: () => {
      // An untrusted file is someone else's: left alone, and never read.
      if (cache === 'used' || cache === 'untrusted') return;
      try {
        // After the command ran: the data then holds every function it compiled, not just the top.
        writeCache(cacheFile, header, script.createCachedData());
      } catch {
        // A cache that cannot be written costs the next run its compile, nothing else.
      }
    },
  };
}
