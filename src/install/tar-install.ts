/**
 * `--install-method=tar`: unpack a root tree archive (`.tar`, `.tar.gz`, `.tar.xz`, `.tar.zst`,
 * `.tar.bz2`) with numeric owners, permissions, xattrs and ACLs. GNU tar recognises the
 * compression from the file's content, so the argv is the same whatever it is; the magic bytes
 * are read first only to name a missing decompressor in the error.
 */
import { lstat } from 'node:fs/promises';
import { runtimeError, usageError } from '../errors.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { hasCommand } from '../tools/exec.js';
import { buildTarExtractArgv, detectCompression, extractTar } from '../tools/tar.js';
import type { InstallRequest } from './install-request.js';

/** The actions of a tar install, for `--dry-run`. */
export function describeTarInstall(request: InstallRequest): PlanAction[] {
  return [{ kind: 'run', argv: buildTarExtractArgv(request.install.source ?? '', request.target, 'none') }];
}

/** Unpacks `request.install.source` into the target. */
export async function installFromTar(request: InstallRequest, ctx: StepContext): Promise<void> {
  const archive = request.install.source;
  const st = archive ? await lstat(archive).catch(() => undefined) : undefined;
  if (!archive || !st?.isFile()) {
    throw usageError(
      'E_INSTALL_SOURCE',
      `install source "${archive ?? ''}" is not a file`,
      'give --install-source=FILE.tar[.gz|.xz|.zst] with a root tree archive',
    );
  }
  const compression = await detectCompression(archive);
  if (compression !== 'none' && !(await hasCommand(compression))) {
    throw runtimeError(
      'E_TOOL_MISSING',
      `install source "${archive}" is ${compression}-compressed and ${compression} is not installed`,
      `apt-get install ${compression}`,
    );
  }
  ctx.reporter.progress(request.stepId ?? 'install.tar', `unpacking ${archive} (${compression})`);
  await extractTar(archive, request.target, 'none', { signal: ctx.signal, sink: ctx.sink });
}
