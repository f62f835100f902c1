/**
 * `--modules=DIR` with a host kernel (`--kernel`): the modules directory copied to
 * /lib/modules/BASENAME in the guest, as xen-tools' 80-install-modules does (`cp -au`).
 */
import path from 'node:path';
import type { PlanAction } from '../plan/plan.js';
import { runCommand } from '../tools/exec.js';
import type { CustomizeContext } from './types.js';

/** What the step does (nothing without --modules). */
export function describeHostModules(modules: string | undefined): PlanAction[] {
  if (modules === undefined) return [];
  return [
    { kind: 'run', argv: ['cp', '-a', '--', modules, `<guest>/lib/modules/${path.basename(modules)}`] },
  ];
}

/** Copies the modules directory into the guest (a failed run's staging tree goes as a whole). */
export async function applyHostModules(c: CustomizeContext): Promise<void> {
  const modules = c.spec.boot.modules;
  if (modules === undefined) return;
  c.editor.mkdir('/lib/modules', { mode: 0o755 });
  const target = `/lib/modules/${path.basename(modules)}`;
  c.editor.noteCreating(target);
  await runCommand(['cp', '-a', '--', modules, c.editor.hostPath(target)], {
    sink: c.step.sink,
    signal: c.step.signal,
  });
}
