import { usageError } from '../errors.js';

/** For commands that exist (with --help) but whose issue has not landed yet. */
export function notImplemented(command: string): never {
  throw usageError(
    'E_NOT_IMPLEMENTED',
    `${command} is not implemented yet`,
    'see `xenkit --help` for what works today',
  );
}
