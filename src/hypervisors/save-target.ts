/** The one rule every driver's `save` keeps: a save file is always a new file. */
import { existsSync } from 'node:fs';
import { usageError } from '../errors.js';

/** Throws E_EXISTS (exit 2) when `file` exists already. */
export function refuseExistingSaveFile(file: string): void {
  if (existsSync(file)) {
    throw usageError(
      'E_EXISTS',
      `save file ${file} exists already`,
      'give a new file name (xm save never overwrites)',
    );
  }
}
