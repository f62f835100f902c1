/**
 * What a listing derived from each file it read (a cfg's fields, a disk's format), kept between
 * listings so that an unchanged guest costs a stat instead of a read and a parse. An entry is
 * keyed by the file's path and its device, inode, size, mtime and ctime in nanoseconds: an edited,
 * replaced or touched file has another key and is read again, so the cache never answers for
 * content it did not see. What is derived from a file that belongs to an entry (a guest's disks
 * to its cfg) is kept inside that entry's value as a memo with the file's own key, checked the
 * same way: one entry per guest, not one per file. A file changed less than a second before the
 * listing started is not kept (a second edit within its timestamp's granularity could keep the
 * key), and read again next time. The cache is a root-owned mode-0600 JSON file under the cache directory, written through a
 * temporary file and a rename when something changed; one that is missing, not a plain file, not
 * root's 0600, unreadable, corrupt, or from another xenkit version is ignored (and replaced).
 */
import fs from 'node:fs';
import path from 'node:path';

const MAGIC = 'xenkit-listing-cache';
/** Bump when what a listing keeps for a file changes in shape or meaning. */
const SCHEMA = 3;
const RACY_NS = 1_000_000_000n;

/** The key of a file's content as its stat tells it. */
export function fileKey(stat: fs.BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

type Entry = [key: string, value: unknown];

/** A value derived from a file, with the key of the file's content then (see fileKey). */
export type Memo<T> = [key: string, value: T];

/** A listing's cache: looked up with a file's stat, filled on a miss, saved once at the end. */
export class ListingCache {
  private readonly kept = new Map<string, Entry>();
  private changed = false;
  /** Lookups answered, and not, in this listing (tests and benchmarks read them). */
  hits = 0;
  misses = 0;

  private constructor(
    /** The cache file. */
    readonly file: string,
    private readonly version: string,
    private readonly loaded: Map<string, Entry>,
    /** Files changed at or after this time (ns since the epoch) are not kept. */
    private readonly racyFromNs: bigint,
  ) {}

  /**
   * The cache in `file` for `version` (the xenkit version that reads it), empty when the file is
   * not there or cannot be used; never throws. `nowMs` is the listing's start.
   */
  static open(file: string, version: string, nowMs = Date.now()): ListingCache {
    return new ListingCache(file, version, readEntries(file, version), BigInt(nowMs) * 1_000_000n - RACY_NS);
  }

  /** What was kept for `name` when `stat` still matches the file it was derived from. */
  get(name: string, stat: fs.BigIntStats): unknown {
    const entry = this.loaded.get(name);
    if (entry === undefined || entry[0] !== fileKey(stat)) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.kept.set(name, entry);
    return entry[1];
  }

  /** Keeps `value`, derived from the file `stat` describes (taken before it was read), for `name`. */
  set(name: string, stat: fs.BigIntStats, value: unknown): void {
    this.changed = true;
    if (this.isRacy(stat)) return;
    this.kept.set(name, [fileKey(stat), value]);
  }

  /**
   * What was kept for `name` when `stat` still matches and `isValid` accepts it; else `derive()`'s
   * value, kept for the next listing.
   */
  through<T>(
    name: string,
    stat: fs.BigIntStats,
    isValid: (value: unknown) => value is T,
    derive: () => T,
  ): T {
    const kept = this.get(name, stat);
    if (isValid(kept)) return kept;
    const value = derive();
    this.set(name, stat, value);
    return value;
  }

  /**
   * The value of `memo` (kept inside another entry's value) when it was derived from the file that
   * `stat` describes now and `isValid` accepts it; undefined otherwise. Counted as a hit or a miss.
   */
  recall<T>(memo: unknown, stat: fs.BigIntStats, isValid: (value: unknown) => value is T): T | undefined {
    if (Array.isArray(memo) && memo.length === 2 && memo[0] === fileKey(stat) && isValid(memo[1])) {
      this.hits += 1;
      return memo[1];
    }
    this.misses += 1;
    return undefined;
  }

  /**
   * A memo of `value`, derived from the file `stat` describes (taken before it was read), for the
   * caller to store inside a value this cache keeps; undefined when the file changed too recently
   * to be trusted. The cache is written again at save.
   */
  memo<T>(stat: fs.BigIntStats, value: T): Memo<T> | undefined {
    this.changed = true;
    return this.isRacy(stat) ? undefined : [fileKey(stat), value];
  }

  /** Whether the file `stat` describes changed too recently for its key to be trusted (RACY_NS). */
  private isRacy(stat: fs.BigIntStats): boolean {
    return stat.ctimeNs >= this.racyFromNs || stat.mtimeNs >= this.racyFromNs;
  }

  /**
   * Writes what this listing looked up or derived (entries of files it no longer saw are
   * dropped), when that differs from what was read; never throws: a cache that cannot be
   * written costs the next listing its reads.
   */
  save(): void {
    if (!this.changed && this.kept.size === this.loaded.size) return;
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o755 });
      const entries = [...this.kept].map(([name, [key, value]]) => [name, key, value]);
      const text = JSON.stringify({ magic: MAGIC, schema: SCHEMA, version: this.version, entries });
      fs.writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
      fs.renameSync(temp, this.file);
    } catch {
      fs.rmSync(temp, { force: true });
    }
  }
}

/** The entries of the cache file, or none when it is missing, untrusted, corrupt or another version's. */
function readEntries(file: string, version: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let text: string;
  try {
    // O_NOFOLLOW: a link in place of the cache is not followed; only root's own 0600 file is read.
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() || stat.uid !== 0 || (stat.mode & 0o077) !== 0) return entries;
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return entries;
  }
  try {
    const data = JSON.parse(text) as {
      magic?: unknown;
      schema?: unknown;
      version?: unknown;
      entries?: unknown;
    };
    if (data.magic !== MAGIC || data.schema !== SCHEMA || data.version !== version) return entries;
    if (!Array.isArray(data.entries)) return entries;
    for (const item of data.entries as unknown[]) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') continue;
      entries.set(item[0], [item[1], item[2]]);
    }
  } catch {
    entries.clear();
  }
  return entries;
}

/**
 * The cache `name` (a command) under `cacheDir` for xenkit `version`, or undefined when this
 * process does not use one: not root (the cache is root's), no version known, or
 * XENKIT_LISTING_CACHE=0 in `env`.
 */
export function openListingCache(
  cacheDir: string,
  name: string,
  version: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ListingCache | undefined {
  if (version === undefined || env.XENKIT_LISTING_CACHE === '0' || process.geteuid?.() !== 0)
    return undefined;
  return ListingCache.open(path.join(cacheDir, `listing-${name}.json`), version);
}
