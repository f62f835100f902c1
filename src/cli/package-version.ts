/** The package version, read from package.json: a module of its own so light commands need nothing else. */
import { readFileSync } from 'node:fs';

/** The package version, for `--version`. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The package version, or undefined when package.json cannot be read (a bundle copied alone). */
export function packageVersionOrUndefined(): string | undefined {
  try {
    return packageVersion();
  } catch {
    return undefined;
  }
}
