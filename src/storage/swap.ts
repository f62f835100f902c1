/** Swap areas on image files or devices. */
import type { PlanAction, StepScope } from '../plan/plan.js';
import { probeBlock } from '../tools/blkid.js';
import { makeSwapSignature, mkswapArgv } from '../tools/mkfs.js';
import { runtimeError } from '../errors.js';
import { checkFsParameters } from './fs-options.js';

export interface MakeSwapOptions {
  /** Image file (its work path) or block device. */
  target: string;
  uuid?: string | undefined;
  label?: string | undefined;
}

/** The dry-run view of `makeSwap`. */
export function describeMakeSwap(options: MakeSwapOptions): PlanAction[] {
  return [{ kind: 'run', argv: mkswapArgv(options.target, options.uuid, options.label) }];
}

/** Writes a swap signature with the given UUID and returns the UUID read back. */
export async function makeSwap(options: MakeSwapOptions, ctx: StepScope): Promise<string> {
  checkFsParameters({
    target: options.target,
    fs: 'swap',
    uuid: options.uuid,
    label: options.label,
  }).throwIfAny();
  await makeSwapSignature(options.target, options.uuid, options.label, {
    sink: ctx.sink,
    signal: ctx.signal,
  });
  const found = await probeBlock(options.target, { sink: ctx.sink });
  if (found?.type !== 'swap' || !found.uuid) {
    throw runtimeError(
      'E_FS_VERIFY',
      `${options.target}: mkswap ran but blkid finds no swap signature`,
      'report this as a bug',
    );
  }
  if (options.uuid && found.uuid.toLowerCase() !== options.uuid.toLowerCase()) {
    throw runtimeError(
      'E_FS_VERIFY',
      `${options.target}: swap UUID is ${found.uuid}, expected ${options.uuid}`,
      'report this as a bug',
    );
  }
  return found.uuid;
}
